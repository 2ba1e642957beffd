using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace ProxTunnel.Tests.Gateway;

/// <summary>The real <c>proxtunnel</c> gateway process (<c>dotnet proxtunnel.dll ...</c>) on a free loopback port.</summary>
internal sealed partial class GatewayProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _stderrLine = new(0);

    private GatewayProcess(Process process, string directory, int port)
    {
        _process = process;
        Directory = directory;
        Port = port;
    }

    /// <summary>Temp directory of this gateway; the CA lives in <see cref="CaPath"/>.</summary>
    public string Directory { get; }

    public string CaPath => Path.Combine(Directory, "ca.pem");

    public int Port { get; }

    public string ProxyUrl => $"http://127.0.0.1:{Port}";

    public string StdOut
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string StdErr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Path of the built launcher, next to the test assembly's configuration (Debug/Release).</summary>
    public static string DllPath { get; } = FindDll();

    /// <summary>A port nobody listens on right now (bound to 0 and released).</summary>
    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>Starts the gateway with <c>--listen 127.0.0.1:PORT --ca DIR/ca.pem</c> (unless the caller names a CA) plus <paramref name="arguments"/>,
    /// and waits until it prints its banner.</summary>
    public static async Task<GatewayProcess> StartAsync(params string[] arguments)
    {
        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-gateway-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var port = FreePort();
        var all = new List<string> { "--listen", $"127.0.0.1:{port}" };
        if (!arguments.Contains("--ca"))
        {
            all.AddRange(["--ca", Path.Combine(directory, "ca.pem")]);
        }

        all.AddRange(arguments);
        var process = new Process { StartInfo = CreateStartInfo(all, directory), EnableRaisingEvents = true };
        var gateway = new GatewayProcess(process, directory, port);
        process.OutputDataReceived += (_, e) => gateway.OnStdOut(e.Data);
        process.ErrorDataReceived += (_, e) => gateway.OnStdErr(e.Data);
        process.Exited += (_, _) => gateway._started.TrySetException(new InvalidOperationException("the gateway exited before it listened"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await gateway._started.Task.WaitAsync(StartTimeout);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            var message = $"gateway did not start: {ex.Message}\nstdout:\n{gateway.StdOut}\nstderr:\n{gateway.StdErr}";
            await gateway.DisposeAsync();
            throw new InvalidOperationException(message, ex);
        }

        return gateway;
    }

    /// <summary>Runs <c>proxtunnel ARGS</c> to completion (subcommands, failing starts).</summary>
    public static Task<ExternalProcess.Result> RunAsync(IEnumerable<string> arguments, TimeSpan? timeout = null, string? workingDirectory = null)
        => ExternalProcess.RunAsync("dotnet", new[] { DllPath }.Concat(arguments), timeout ?? TimeSpan.FromSeconds(60), workingDirectory: workingDirectory);

    /// <summary>Waits (bounded) until stderr holds a line matching <paramref name="pattern"/>; returns that line.</summary>
    public async Task<string> WaitForStdErrLineAsync(Regex pattern, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var match = StdErr.Split('\n').FirstOrDefault(pattern.IsMatch);
            if (match is not null)
            {
                return match;
            }

            try
            {
                await _stderrLine.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no stderr line matching {pattern} within the timeout; stderr:\n{StdErr}");
            }
        }
    }

    /// <summary>Stops the gateway as Ctrl+C would (SIGINT) and waits for it to exit; returns its exit code.</summary>
    public async Task<int> StopGracefullyAsync()
    {
        var signal = await ExternalProcess.RunAsync("/bin/kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.That(signal.ExitCode, Is.Zero, signal.ToString());
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>The <c>listening on URL</c> lines of the banner.</summary>
    public IReadOnlyList<string> ListeningUrls => ListeningLine().Matches(StdOut).Select(m => m.Groups[1].Value).ToArray();

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                await _process.WaitForExitAsync(cts.Token);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
        {
        }

        _process.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    internal static ProcessStartInfo CreateStartInfo(IEnumerable<string> arguments, string workingDirectory)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        info.ArgumentList.Add(DllPath);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment.Remove("ASPNETCORE_URLS");
        return info;
    }

    private void OnStdOut(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_stdout)
        {
            _stdout.AppendLine(line);
        }

        // The banner ends with this line; every "listening on" line precedes it.
        if (line.StartsWith("press Ctrl+C", StringComparison.Ordinal))
        {
            _started.TrySetResult();
        }
    }

    private void OnStdErr(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_stderr)
        {
            _stderr.AppendLine(line);
        }

        _stderrLine.Release();
    }

    private static string FindDll()
    {
        var here = AppContext.BaseDirectory;
        var configuration = here.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var directory = new DirectoryInfo(here);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "ProxTunnel.sln")))
        {
            directory = directory.Parent;
        }

        if (directory is null)
        {
            throw new InvalidOperationException($"ProxTunnel.sln not found above {here}");
        }

        var preferred = Path.Combine(directory.FullName, "src", "ProxTunnel.Gateway", "bin", configuration, "net10.0", "proxtunnel.dll");
        var other = Path.Combine(directory.FullName, "src", "ProxTunnel.Gateway", "bin", configuration == "Release" ? "Debug" : "Release", "net10.0", "proxtunnel.dll");
        return File.Exists(preferred) ? preferred : File.Exists(other) ? other : preferred;
    }

    [GeneratedRegex(@"^listening on (\S+)", RegexOptions.Multiline)]
    private static partial Regex ListeningLine();
}
