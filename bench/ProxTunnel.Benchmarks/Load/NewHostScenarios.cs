using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// New hosts: CONNECT + TLS handshake + GET + close for never-seen hosts against the same for a cached host, one at a
/// time, twice: in this process, and from a client process on one CPU to the gateway in its own process on the other
/// (as a client on another machine sees it: in one process on two cores, the client's own handshake work competes with
/// the server's), then from curl on that CPU (a process per request, so no session to resume for any host). Then
/// cached-host handshakes measured while a burst of new hosts is being issued.
/// </summary>
internal static class NewHostScenarios
{
    /// <summary>The child process of the pinned run: <c>new-host-client PROXY-PORT COUNT</c>.</summary>
    public const string ClientCommand = "new-host-client";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private const int Bursts = 5;
    private static readonly byte[] Get = Encoding.ASCII.GetBytes("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");

    /// <summary>Prints the tables; returns false when a new-host target is missed.</summary>
    public static async Task<bool> RunAsync(BenchServer server, RootTrust trust, int count)
    {
        var ok = await SequentialAsync(server.Proxy, server.Authority.RootCertificate, trust, count, "in this process");
        Console.WriteLine();
        ok &= await PinnedAsync(server.Directory, count);
        Console.WriteLine();
        await BurstAsync(server, trust, count, Guid.NewGuid().ToString("N")[..8]);
        return ok;
    }

    /// <summary>The child of <see cref="PinnedAsync"/>: fetches the root from the proxy's download page, as a user would, and runs the table.</summary>
    public static async Task<int> RunClientAsync(string[] args)
    {
        var proxy = new IPEndPoint(IPAddress.Loopback, int.Parse(args[0], Inv));
        var count = int.Parse(args[1], Inv);
        using var handler = new HttpClientHandler { Proxy = new WebProxy($"http://127.0.0.1:{proxy.Port}"), UseProxy = true };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        using var root = X509Certificate2.CreateFromPem(await http.GetStringAsync(new Uri("http://proxtunnel/download/pem")));
        var ok = await SequentialAsync(proxy, root, new RootTrust(root), count, "the gateway alone on CPU 0, this client alone on CPU 1");
        return ok ? 0 : 1;
    }

    /// <summary>The sequential table against the real gateway, bound to CPU 0, from a child process bound to CPU 1.</summary>
    private static async Task<bool> PinnedAsync(string directory, int count)
    {
        if (!ChildServer.CanPin)
        {
            Console.WriteLine("Never-seen vs cached host, client and server on CPUs of their own: skipped (needs two cores and taskset).");
            return true;
        }

        await using var gateway = await ChildServer.StartGatewayAsync(directory, cpu: 0, "--log-level", "warning");
        var start = ChildServer.SelfStartInfo(cpu: 1);
        start.ArgumentList.Add(ClientCommand);
        start.ArgumentList.Add(gateway.Port.ToString(Inv));
        start.ArgumentList.Add(count.ToString(Inv));
        using var client = Process.Start(start) ?? throw new InvalidOperationException("cannot start the client process");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var output = await client.StandardOutput.ReadToEndAsync(timeout.Token);
        await client.WaitForExitAsync(timeout.Token);
        Console.Write(output);
        var ok = client.ExitCode == 0;
        Console.WriteLine();
        return await CurlAsync(gateway.Port, directory, count) && ok;
    }

    /// <summary>
    /// The sequential table from curl bound to CPU 1, a process per request, timed by curl's own clock (connect to the
    /// proxy, CONNECT, handshake, GET, response; not its start-up). No curl process has a session to resume, so for a
    /// cached host too every handshake is a full one: new − cached is what the proxy adds for a host it has never seen.
    /// </summary>
    private static async Task<bool> CurlAsync(int port, string directory, int count)
    {
        if (LoadHarness.FindOnPath("curl") is not { } curl)
        {
            Console.WriteLine("Never-seen vs cached host from curl: skipped (curl not found).");
            return true;
        }

        var proxy = $"http://127.0.0.1:{port}";
        var rootFile = Path.Combine(directory, $"curl-root-{port}.pem");
        await RunCurlAsync(curl, ["-s", "-f", "-x", proxy, "-o", rootFile, "http://proxtunnel/download/pem"]);
        var run = Guid.NewGuid().ToString("N")[..8];
        var results = new[] { new double[count], new double[count] };
        for (var i = -5; i < count; i++)
        {
            for (var k = 0; k < 2; k++)
            {
                var kind = (i + 5 + k) % 2;
                var host = kind == 0 ? "example.com" : $"c{i + 5}-{run}.example.com";
                var seconds = await RunCurlAsync(curl, ["-s", "-f", "-o", "/dev/null", "-x", proxy, "--cacert", rootFile, "-w", "%{time_total}", $"https://{host}/hello"]);
                if (i >= 0)
                {
                    results[kind][i] = double.Parse(seconds, Inv) * 1000;
                }
            }
        }

        var (cached, fresh) = (results[0].Order().ToArray(), results[1].Order().ToArray());
        var difference = Percentiles.Of(fresh, 0.5) - Percentiles.Of(cached, 0.5);
        Console.WriteLine($"First request to a never-seen host vs a cached host, curl alone on CPU 1, a process per request, curl's own clock ({count} each, in turn; CONNECT, full handshake, GET):");
        LoadHarness.PrintTable(["measure", "p50 ms", "p99 ms", "max ms", "target", "ok"],
        [
            ["cached host (a full handshake: curl keeps no session)", P(cached, 0.5), P(cached, 0.99), P(cached, 1), "", ""],
            ["new host", P(fresh, 0.5), P(fresh, 0.99), P(fresh, 1), "", ""],
            ["new − cached (p50)", difference.ToString("F2", Inv), "", "", "≤ 1", difference <= 1 ? "yes" : "NO"],
        ]);
        return difference <= 1;
    }

    /// <summary>Runs curl on CPU 1 and returns what it wrote to stdout; a failed transfer throws.</summary>
    private static async Task<string> RunCurlAsync(string curl, string[] arguments)
    {
        var start = ChildServer.Pinned(new ProcessStartInfo(curl) { RedirectStandardOutput = true, UseShellExecute = false }, cpu: 1);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start curl");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"curl exited with {process.ExitCode}: {string.Join(' ', arguments)}");
    }

    private static async Task<bool> SequentialAsync(IPEndPoint proxy, X509Certificate2 root, RootTrust trust, int count, string where)
    {
        var run = Guid.NewGuid().ToString("N")[..8];

        // Hosts the proxy has issued for and handshaken with, from a client that keeps no session: later the measured
        // client, which keeps sessions, meets each once with none to resume. That is a new host's handshake as the client
        // sees it (its own TLS context warm, no session), with the certificate and the server's TLS context warm.
        var noSessions = new RootTrust(root) { ResumeSessions = false };
        for (var i = 0; i < count + 5; i++)
        {
            await TimedAsync(proxy, noSessions, $"w{i}-{run}.example.com");
        }

        var (cached, cachedFull, fresh) = await InterleavedAsync(count,
            () => TimedAsync(proxy, trust, "example.com"),
            i => TimedAsync(proxy, trust, $"w{i}-{run}.example.com"),
            i => TimedAsync(proxy, trust, $"h{i}-{run}.example.com"));
        var difference = Percentiles.Of(fresh.Totals, 0.5) - Percentiles.Of(cached.Totals, 0.5);
        Console.WriteLine($"First request to a never-seen host vs a cached host, {where} ({count} each, one at a time, the three kinds in turn; CONNECT, handshake, GET, close):");
        LoadHarness.PrintTable(["measure", "p50 ms", "p99 ms", "max ms", "CONNECT p50", "handshake p50", "target", "ok"],
        [
            Row("cached host", cached),
            Row("cached host, full handshake (no session to resume)", cachedFull),
            Row("new host, as the client sees it", fresh),
            ["new − cached (p50)", difference.ToString("F2", Inv), "", "", "", "", "≤ 1", difference <= 1 ? "yes" : "NO"],
        ]);
        return difference <= 1;

        static string[] Row(string name, Timings t) =>
            [name, P(t.Totals, 0.5), P(t.Totals, 0.99), P(t.Totals, 1), P(t.Connects, 0.5), P(t.Handshakes, 0.5), "", ""];
    }

    /// <summary>
    /// The three kinds one after another in turn, their order rotating each round, so a drift in the machine's speed
    /// (this one has slow spells) moves all three alike instead of whichever ran last. Five rounds of warm-up.
    /// </summary>
    private static async Task<(Timings Cached, Timings CachedFull, Timings Fresh)> InterleavedAsync(
        int count, Func<Task<Timing>> cached, Func<int, Task<Timing>> cachedFull, Func<int, Task<Timing>> fresh)
    {
        var results = new[] { new Timings(count), new Timings(count), new Timings(count) };
        for (var i = -5; i < count; i++)
        {
            for (var k = 0; k < 3; k++)
            {
                var kind = (i + 5 + k) % 3;
                var timing = await (kind switch { 0 => cached(), 1 => cachedFull(i + 5), _ => fresh(i + 5) });
                if (i >= 0)
                {
                    results[kind].Set(i, timing);
                }
            }
        }

        foreach (var timings in results)
        {
            timings.Sort();
        }

        return (results[0], results[1], results[2]);
    }

    /// <summary>
    /// Cached-host tunnels one after another while <paramref name="count"/> new hosts connect at once, over
    /// <see cref="Bursts"/> bursts pooled: one burst lasts a few hundred milliseconds, too few cached tunnels for a p99.
    /// </summary>
    private static async Task BurstAsync(BenchServer server, RootTrust trust, int count, string run)
    {
        var during = new List<double>();
        var newHosts = new List<double>();
        var durations = new List<string>();
        for (var b = 0; b < Bursts; b++)
        {
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var burstWatch = new Stopwatch();
            var burst = Task.WhenAll(Enumerable.Range(0, count).Select(i => Task.Run(async () =>
            {
                await start.Task;
                return await OneAsync(server.Proxy, trust, $"b{b}-{i}-{run}.example.com");
            })));

            burstWatch.Start();
            start.SetResult();
            while (!burst.IsCompleted && during.Count < 100_000)
            {
                during.Add(await OneAsync(server.Proxy, trust, "example.com"));
            }

            newHosts.AddRange(await burst);
            burstWatch.Stop();
            durations.Add(burstWatch.Elapsed.TotalMilliseconds.ToString("F0", Inv));
        }

        var cached = during.Order().ToArray();
        var fresh = newHosts.Order().ToArray();
        Console.WriteLine($"Cached-host tunnels while {count} new hosts connect at once ({Bursts} bursts, pooled; they took {string.Join(", ", durations)} ms):");
        LoadHarness.PrintTable(["measure", "count", "p50 ms", "p99 ms", "max ms"],
        [
            ["cached host during the bursts", cached.Length.ToString(Inv), P(cached, 0.5), P(cached, 0.99), P(cached, 1)],
            ["new hosts of the bursts", fresh.Length.ToString(Inv), P(fresh, 0.5), P(fresh, 0.99), P(fresh, 1)],
        ]);
    }

    private static async Task<double> OneAsync(IPEndPoint proxy, RootTrust trust, string host) => (await TimedAsync(proxy, trust, host)).Total;

    /// <summary>One tunnel: CONNECT, handshake, GET, close; the whole and the time to the CONNECT's 200 and to the end of the handshake.</summary>
    private static async Task<Timing> TimedAsync(IPEndPoint proxy, RootTrust trust, string host)
    {
        var started = Stopwatch.GetTimestamp();
        double connected, handshaken;
        await using (var client = await RawHttpConnection.ConnectAsync(proxy))
        {
            await client.RequestTunnelAsync(host);
            connected = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            await client.StartTlsAsync(host, trust, SslApplicationProtocol.Http11, CancellationToken.None);
            handshaken = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var (status, _) = await client.SendAsync(Get);
            if (status != 200)
            {
                throw new InvalidOperationException($"status {status} for {host}");
            }
        }

        return new Timing(Stopwatch.GetElapsedTime(started).TotalMilliseconds, connected, handshaken - connected);
    }

    /// <summary>One tunnel's times, ms: the whole, to the CONNECT's 200, and the TLS handshake alone.</summary>
    private readonly record struct Timing(double Total, double Connect, double Handshake);

    /// <summary>The times of one kind, each column sorted on its own for percentiles.</summary>
    private sealed class Timings(int count)
    {
        public double[] Totals { get; } = new double[count];

        public double[] Connects { get; } = new double[count];

        public double[] Handshakes { get; } = new double[count];

        public void Set(int index, Timing timing) =>
            (Totals[index], Connects[index], Handshakes[index]) = (timing.Total, timing.Connect, timing.Handshake);

        public void Sort()
        {
            Array.Sort(Totals);
            Array.Sort(Connects);
            Array.Sort(Handshakes);
        }
    }

    private static string P(double[] sorted, double p) => Percentiles.Of(sorted, p).ToString("F2", Inv);
}
