using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using ProxTunnel.Certificates;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// The end-to-end harness: one Kestrel app on loopback (bare HTTP, UseProxyTunnel, UseHttps listeners) and, for the
/// gateway scenarios, the real gateway and reference apps as child processes, driven in process by raw keep-alive
/// clients for a fixed time per scenario, then optionally by <c>hey</c>. Loopback only, every loop bounded by time or count.
/// </summary>
internal static class LoadHarness
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The scenario groups, in the order they run; <c>--only</c> picks some of them.</summary>
    private static readonly string[] Groups = ["throughput", "http2", "new-hosts", "idle", "gateway", "hey"];

    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = 10;
        var connections = 32;
        var newHosts = 200;
        var idleConnections = 1000;
        var groups = new HashSet<string>(Groups, StringComparer.Ordinal);
        var check = false;
        string[]? idleModes = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds" when i + 1 < args.Length:
                    seconds = int.Parse(args[++i], Inv);
                    break;
                case "--connections" when i + 1 < args.Length:
                    connections = int.Parse(args[++i], Inv);
                    break;
                case "--new-hosts" when i + 1 < args.Length:
                    newHosts = int.Parse(args[++i], Inv);
                    break;
                case "--idle" or "--idle-tunnels" when i + 1 < args.Length:
                    idleConnections = int.Parse(args[++i], Inv);
                    break;
                case "--idle-hold" when i + 1 < args.Length:
                    IdleMemoryScenarios.HoldSeconds = int.Parse(args[++i], Inv);
                    break;
                case "--idle-rounds" when i + 1 < args.Length:
                    IdleMemoryScenarios.Rounds = int.Parse(args[++i], Inv);
                    break;
                case "--idle-kinds" when i + 1 < args.Length:
                    idleModes = args[++i].Split(',');
                    break;
                case "--only" when i + 1 < args.Length:
                    groups = new HashSet<string>(args[++i].Split(','), StringComparer.Ordinal);
                    break;
                case "--no-hey":
                    groups.Remove("hey");
                    break;
                case "--check":
                    check = true;
                    break;
                default:
                    Console.Error.WriteLine($"unknown argument {args[i]}");
                    Console.Error.WriteLine($"usage: load [--seconds N] [--connections N] [--new-hosts N] [--idle N] [--idle-kinds {string.Join(',', IdleClient.Modes.Keys)}] [--idle-rounds N] [--idle-hold SECONDS] [--only {string.Join(',', Groups)}] [--no-hey] [--check]");
                    return 2;
            }
        }

        if (seconds < 1 || connections < 1 || newHosts < 1 || idleConnections < 1 || !groups.IsSubsetOf(Groups))
        {
            Console.Error.WriteLine($"all counts must be positive; groups are {string.Join(',', Groups)}");
            return 2;
        }

        var duration = TimeSpan.FromSeconds(seconds);
        await using var server = await BenchServer.StartAsync();
        var trust = new RootTrust(server.Authority.RootCertificate);
        Console.WriteLine($"ProxTunnel load harness: {Environment.ProcessorCount} cores, {connections} keep-alive connections, {seconds} s per comparison split into direct/proxied/proxied/direct quarters, after a warm-up, client in process.");
        Console.WriteLine($"direct http {server.DirectHttp}, proxy {server.Proxy}, direct https {server.DirectHttps}");
        Console.WriteLine();

        var rows = new List<string[]>();
        if (groups.Contains("throughput"))
        {
            rows.AddRange(await ThroughputAsync(server, trust, connections, duration));
        }

        if (groups.Contains("gateway"))
        {
            rows.AddRange(await GatewayScenarios.RunAsync(server.Directory, connections, duration));
        }

        if (rows.Count > 0)
        {
            PrintTable(["scenario", "direct", "proxied", "ratio", "target", "ok"], rows);
            Console.WriteLine();
        }

        var ok = rows.All(row => row[^1] != "NO");
        if (groups.Contains("http2"))
        {
            ok &= await Http2Load.RunAsync(server, connections, seconds);
            Console.WriteLine();
        }

        if (groups.Contains("new-hosts"))
        {
            ok &= await NewHostScenarios.RunAsync(server, trust, newHosts);
            Console.WriteLine();
        }

        if (groups.Contains("idle"))
        {
            ok &= await IdleMemoryScenarios.RunAsync(server, idleConnections, idleModes);
            Console.WriteLine();
        }

        if (groups.Contains("hey"))
        {
            await HeyAsync(server, connections, seconds);
        }

        // --check turns missed targets into a failing exit code, so a quiet CI machine catches regressions.
        return check && !ok ? 1 : 0;
    }

    private static async Task<List<string[]>> ThroughputAsync(BenchServer server, RootTrust trust, int connections, TimeSpan duration)
    {
        var rows = new List<string[]>();
        var get = Request("/hello", "127.0.0.1");
        var absolute = Encoding.ASCII.GetBytes("GET http://example.com/hello HTTP/1.1\r\nHost: example.com\r\n\r\n");
        var inTunnel = Request("/hello", "example.com");
        var localhost = Request("/hello", "localhost");

        Func<Task<RawHttpConnection>> plain = () => RawHttpConnection.ConnectAsync(server.DirectHttp);
        Func<Task<RawHttpConnection>> proxy = () => RawHttpConnection.ConnectAsync(server.Proxy);
        Func<Task<RawHttpConnection>> tls = () => RawHttpConnection.OpenTlsAsync(server.DirectHttps, "localhost", trust);
        Func<Task<RawHttpConnection>> tunnel = () => RawHttpConnection.OpenTunnelAsync(server.Proxy, "example.com", trust);

        // Warm every path (JIT tiering, pools, the certificate cache) before anything is measured.
        foreach (var (open, request) in new[] { (plain, get), (proxy, absolute), (proxy, get), (tls, localhost), (tunnel, inTunnel) })
        {
            await RequestsPerSecondAsync(connections, TimeSpan.FromSeconds(1), open, request);
        }

        var (directHttp, proxyHttp) = await CompareAsync(duration, d => RequestsPerSecondAsync(connections, d, plain, get), d => RequestsPerSecondAsync(connections, d, proxy, absolute));
        var (directHttp2, originOnProxy) = await CompareAsync(duration, d => RequestsPerSecondAsync(connections, d, plain, get), d => RequestsPerSecondAsync(connections, d, proxy, get));
        rows.Add(Row("HTTP keep-alive req/s (absolute-form)", directHttp, proxyHttp, 0.9, "F0"));
        rows.Add(Row("  origin-form on the proxy port", directHttp2, originOnProxy, 0.9, "F0"));

        var (directHttps, tunnelHttps) = await CompareAsync(duration, d => RequestsPerSecondAsync(connections, d, tls, localhost), d => RequestsPerSecondAsync(connections, d, tunnel, inTunnel));
        rows.Add(Row("HTTPS keep-alive req/s (CONNECT+TLS)", directHttps, tunnelHttps, 0.9, "F0"));

        var (directDownload, tunnelDownload) = await CompareAsync(duration,
            d => DownloadMegabytesPerSecondAsync(d, tls, Request("/big", "localhost")),
            d => DownloadMegabytesPerSecondAsync(d, tunnel, Request("/big", "example.com")));
        rows.Add(Row("64 MiB HTTPS download MB/s (1 conn)", directDownload, tunnelDownload, 0.8, "F0"));
        return rows;
    }

    /// <summary>Runs direct, proxied, proxied, direct for a quarter of <paramref name="duration"/> each (ABBA, against drift) and averages.</summary>
    internal static async Task<(double Direct, double Proxied)> CompareAsync(TimeSpan duration, Func<TimeSpan, Task<double>> direct, Func<TimeSpan, Task<double>> proxied)
    {
        var half = duration / 4;
        var d1 = await direct(half);
        var p1 = await proxied(half);
        var p2 = await proxied(half);
        var d2 = await direct(half);
        return ((d1 + d2) / 2, (p1 + p2) / 2);
    }

    internal static byte[] Request(string path, string host) => Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");

    internal static string[] Row(string name, double direct, double proxied, double target, string format)
    {
        var ratio = proxied / direct;
        return [name, direct.ToString(format, Inv), proxied.ToString(format, Inv), ratio.ToString("F2", Inv), "≥ " + target.ToString("F1", Inv), ratio >= target ? "yes" : "NO"];
    }

    internal static async Task<double> RequestsPerSecondAsync(int connections, TimeSpan duration, Func<Task<RawHttpConnection>> open, byte[] request)
        => (await MeasureAsync(connections, duration, open, request, static () => TimeSpan.Zero)).Rate;

    /// <summary>Requests per second, and the CPU time <paramref name="cpu"/> (a server process's clock) spent per request:
    /// on a shared machine the second is the steadier figure, as contention slows both sides alike.</summary>
    internal static async Task<(double Rate, double CpuMicroseconds)> MeasureAsync(
        int connections, TimeSpan duration, Func<Task<RawHttpConnection>> open, byte[] request, Func<TimeSpan> cpu)
    {
        var clients = await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => open()));
        try
        {
            await DriveAsync(clients, TimeSpan.FromMilliseconds(200), request);
            var stopwatch = Stopwatch.StartNew();
            var cpuBefore = cpu();
            var count = await DriveAsync(clients, duration, request);
            return (count / stopwatch.Elapsed.TotalSeconds, (cpu() - cpuBefore).TotalMicroseconds / count);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    private static async Task<long> DriveAsync(RawHttpConnection[] clients, TimeSpan duration, byte[] request)
    {
        var stopwatch = Stopwatch.StartNew();
        var counts = await Task.WhenAll(clients.Select(client => Task.Run(async () =>
        {
            long n = 0;
            while (stopwatch.Elapsed < duration)
            {
                var (status, _) = await client.SendAsync(request);
                if (status != 200)
                {
                    throw new InvalidOperationException($"status {status}");
                }

                n++;
            }

            return n;
        })));
        return counts.Sum();
    }

    private static async Task<double> DownloadMegabytesPerSecondAsync(TimeSpan duration, Func<Task<RawHttpConnection>> open, byte[] request)
    {
        await using var client = await open();
        await client.SendAsync(request);
        long bytes = 0;
        var stopwatch = Stopwatch.StartNew();
        do
        {
            var (status, length) = await client.SendAsync(request);
            if (status != 200 || length != BenchServer.BigLength)
            {
                throw new InvalidOperationException($"status {status}, length {length}");
            }

            bytes += length;
        }
        while (stopwatch.Elapsed < duration);

        return bytes / 1e6 / stopwatch.Elapsed.TotalSeconds;
    }

    private static async Task HeyAsync(BenchServer server, int connections, int seconds)
    {
        var hey = FindOnPath("hey");
        if (hey is null)
        {
            Console.WriteLine("hey not installed (apt-get install -y hey): skipping the hey comparison.");
            return;
        }

        Console.WriteLine($"hey -c {connections}, each side run twice as -z {Math.Max(1, seconds / 2)}s in the order direct/proxied/proxied/direct (external process, keep-alive; hey skips certificate checks):");
        var c = connections.ToString(Inv);
        var proxy = $"http://127.0.0.1:{server.Proxy.Port}";

        // Direct, proxied, proxied, direct with half the time each (ABBA, against drift); rates averaged, failures summed.
        async Task<((double Rate, long Failures) Direct, (double Rate, long Failures) Proxied)> PairAsync(string[] direct, string[] proxied)
        {
            var z = Math.Max(1, seconds / 2).ToString(Inv) + "s";
            var d1 = await RunHeyAsync(hey, seconds, ["-c", c, "-z", z, .. direct]);
            var p1 = await RunHeyAsync(hey, seconds, ["-c", c, "-z", z, .. proxied]);
            var p2 = await RunHeyAsync(hey, seconds, ["-c", c, "-z", z, .. proxied]);
            var d2 = await RunHeyAsync(hey, seconds, ["-c", c, "-z", z, .. direct]);
            return (((d1.Rate + d2.Rate) / 2, d1.Failures + d2.Failures), ((p1.Rate + p2.Rate) / 2, p1.Failures + p2.Failures));
        }

        var (directHttp, proxyHttp) = await PairAsync([$"http://127.0.0.1:{server.DirectHttp.Port}/hello"], ["-x", proxy, "http://example.com/hello"]);
        var (directHttps, tunnelHttps) = await PairAsync([$"https://127.0.0.1:{server.DirectHttps.Port}/hello"], ["-x", proxy, "https://example.com/hello"]);
        PrintTable(["scenario", "direct", "proxied", "ratio", "target", "ok", "non-200 / errors"],
        [
            [.. Row("HTTP req/s (hey -x, absolute-form)", directHttp.Rate, proxyHttp.Rate, 0.9, "F0"), $"{directHttp.Failures} / {proxyHttp.Failures}"],
            [.. Row("HTTPS req/s (hey -x, CONNECT+TLS)", directHttps.Rate, tunnelHttps.Rate, 0.9, "F0"), $"{directHttps.Failures} / {tunnelHttps.Failures}"],
        ]);
    }

    private static async Task<(double Rate, long Failures)> RunHeyAsync(string hey, int seconds, params string[] arguments)
    {
        var start = new ProcessStartInfo(hey) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start hey");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds + 60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException("hey did not finish");
        }

        var text = await output + await errors;
        double rate = 0;
        long ok = 0;
        long total = 0;
        var inErrors = false;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("Requests/sec:", StringComparison.Ordinal))
            {
                rate = double.Parse(line["Requests/sec:".Length..].Trim(), Inv);
            }
            else if (line.StartsWith("Error distribution:", StringComparison.Ordinal))
            {
                inErrors = true;
            }
            else if (line.StartsWith('[') && line.Contains(']', StringComparison.Ordinal))
            {
                var count = long.Parse(line[(line.IndexOf(']', StringComparison.Ordinal) + 1)..].Trim().Split(' ')[0], Inv);
                if (!inErrors && line.StartsWith("[200]", StringComparison.Ordinal))
                {
                    ok += count;
                }

                total += count;
            }
        }

        return (rate, total - ok);
    }

    internal static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);

    /// <summary>The median of <paramref name="values"/> (the mean of the middle two for an even count).</summary>
    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    internal static void PrintTable(string[] header, IReadOnlyList<string[]> rows)
    {
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Max(r => r[i].Length))).ToArray();
        Console.WriteLine("| " + string.Join(" | ", header.Select((h, i) => h.PadRight(widths[i]))) + " |");
        Console.WriteLine("|" + string.Join("|", widths.Select(w => new string('-', w + 2))) + "|");
        foreach (var row in rows)
        {
            Console.WriteLine("| " + string.Join(" | ", row.Select((cell, i) => i == 0 ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i]))) + " |");
        }
    }
}
