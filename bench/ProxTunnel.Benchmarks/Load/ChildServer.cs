using System.Diagnostics;
using System.Globalization;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// A server in a child process (the gateway, or a <see cref="ChildApps"/> app), so each side of a comparison is a
/// process of its own, measured by the same in-process client. Waits for the line that gives its port.
/// </summary>
internal sealed class ChildServer : IAsyncDisposable
{
    private readonly Process _process;

    private ChildServer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary>User plus system CPU time the process has used so far (Linux /proc, clock-tick resolution).</summary>
    public TimeSpan CpuTime
    {
        get
        {
            // Fields 14 and 15 of /proc/PID/stat, counted after the parenthesised command name (which may hold spaces).
            var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / (double)ClockTicksPerSecond);
        }
    }

    // USER_HZ: 100 on every Linux architecture .NET runs on.
    private const int ClockTicksPerSecond = 100;

    /// <summary>One of this harness's own <see cref="ChildApps"/>.</summary>
    public static Task<ChildServer> StartAppAsync(string command, params string[] arguments)
    {
        var start = SelfStartInfo();
        start.ArgumentList.Add(command);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return StartAsync(start, line => line.StartsWith("LISTENING ", StringComparison.Ordinal) ? int.Parse(line[10..], CultureInfo.InvariantCulture) : null);
    }

    /// <summary>The real gateway (<c>dotnet proxtunnel.dll</c>) on a free loopback port, at its default log level.</summary>
    public static Task<ChildServer> StartGatewayAsync(string directory, params string[] arguments) => StartGatewayAsync(directory, cpu: null, arguments);

    /// <summary>Like the other overload; with <paramref name="cpu"/>, the process and every thread it makes run on that CPU alone
    /// (<c>taskset</c>, so the runtime sizes itself for one core).</summary>
    public static Task<ChildServer> StartGatewayAsync(string directory, int? cpu, params string[] arguments)
    {
        var port = FreePort();
        var start = Pinned(new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = directory }, cpu);
        start.ArgumentList.Add(GatewayDll());
        foreach (var argument in new[] { "--listen", $"127.0.0.1:{port}", "--ca", Path.Combine(directory, $"gateway-ca-{port}.pem") }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("ASPNETCORE_URLS");
        return StartAsync(start, line => line.StartsWith("press Ctrl+C", StringComparison.Ordinal) ? port : null);
    }

    /// <summary>This harness as a child process (through <c>dotnet</c> when it runs as a dll), stdin and stdout redirected;
    /// with <paramref name="cpu"/>, on that CPU alone.</summary>
    internal static ProcessStartInfo SelfStartInfo(int? cpu = null)
    {
        var start = Pinned(new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false }, cpu);
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            start.ArgumentList.Add(typeof(ChildServer).Assembly.Location);
        }

        return start;
    }

    /// <summary>Whether <see cref="Pinned"/> can bind processes to CPUs here: Linux with <c>taskset</c> and at least two cores.</summary>
    public static bool CanPin => Environment.ProcessorCount >= 2 && TasksetPath() is not null;

    /// <summary><paramref name="start"/> run by <c>taskset -c CPU</c> when <paramref name="cpu"/> is given. Set at the start, so every
    /// thread inherits it (a mask set on a running process binds its main thread only).</summary>
    internal static ProcessStartInfo Pinned(ProcessStartInfo start, int? cpu)
    {
        if (cpu is not { } core)
        {
            return start;
        }

        var command = start.FileName;
        start.FileName = TasksetPath() ?? throw new InvalidOperationException("taskset not found (util-linux)");
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(core.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add(command);
        return start;
    }

    private static string? TasksetPath() => LoadHarness.FindOnPath("taskset");

    private static async Task<ChildServer> StartAsync(ProcessStartInfo start, Func<string, int?> readPort)
    {
        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {start.FileName}");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            // Bounded: the banner is a few lines, and the token ends the wait.
            for (var i = 0; i < 100; i++)
            {
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException($"{start.FileName} exited before it listened");
                if (readPort(line) is { } port)
                {
                    // Keep draining its output (the gateway logs on stderr, as it would to a terminal) so it never blocks on a full pipe.
                    _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
                    if (start.RedirectStandardError)
                    {
                        _ = process.StandardError.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
                    }
                    return new ChildServer(process, port);
                }
            }

            throw new InvalidOperationException($"{start.FileName} printed no port");
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    private static int FreePort()
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        return ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>The gateway built beside this harness (same configuration), found from the solution root.</summary>
    private static string GatewayDll()
    {
        var here = AppContext.BaseDirectory;
        var configuration = here.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        var directory = new DirectoryInfo(here);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "ProxTunnel.sln")))
        {
            directory = directory.Parent;
        }

        var dll = Path.Combine(directory?.FullName ?? throw new InvalidOperationException("ProxTunnel.sln not found"),
            "src", "ProxTunnel.Gateway", "bin", configuration, "net10.0", "proxtunnel.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} not built");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                await _process.WaitForExitAsync(timeout.Token);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
        {
        }

        _process.Dispose();
    }
}
