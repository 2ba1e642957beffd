using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using ProxTunnel.Certificates;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// Server memory per idle connection: a child process opens N connections of one kind, sends one request on each and
/// holds them; the server's RSS (and live managed heap) growth is divided by N, after full GCs on both readings.
/// </summary>
internal static class IdleMemoryScenarios
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Connections of each further kind opened once before measuring, to compile its path.</summary>
    private const int WarmUpPerKind = 500;

    /// <summary>Rounds over all kinds (<c>--idle-rounds</c>); each kind's figures are its medians.</summary>
    public static int Rounds { get; set; } = 3;

    /// <summary>Seconds to keep each kind's connections open after measuring (<c>--idle-hold</c>), for heap dumps.</summary>
    public static int HoldSeconds { get; set; }

    /// <summary>One row: the kind of connection, how <see cref="IdleClient"/> opens it, and where.</summary>
    private sealed record IdleKind(string Name, string Mode, Func<BenchServer, IPEndPoint> EndPoint);

    // Extend here (with a mode in IdleClient.Modes).
    private static readonly IdleKind[] Kinds =
    [
        new("bare Kestrel keep-alive", "plain", s => s.DirectHttp),
        new("proxy keep-alive (absolute-form)", "proxy", s => s.Proxy),
        new("CONNECT + TLS tunnel", "tunnel", s => s.Proxy),
        new("direct UseHttps", "direct", s => s.DirectHttps),
        new("TLS to the proxy port (HTTPS proxy, no CONNECT)", "https-proxy", s => s.Proxy),
        new("CONNECT + TLS tunnel, HTTP/2", "tunnel-h2", s => s.Proxy),
        new("direct UseHttps, HTTP/2", "direct-h2", s => s.DirectHttps),
    ];

    /// <summary>Prints the table; returns false when a target is missed.</summary>
    public static async Task<bool> RunAsync(BenchServer server, int count, IReadOnlyCollection<string>? modes = null)
    {
        var root = Path.Combine(server.Directory, "root.cer");
        await File.WriteAllBytesAsync(root, server.Authority.ExportRoot(CertificateExportFormat.Der));
        Console.WriteLine($"Server memory per idle connection ({count} held by a child process, median of {Math.Max(1, Rounds)} rounds over the kinds, after unrecorded warm-up rounds (every kind); RSS from /proc/self/status after full GCs and malloc_trim, and live managed heap):");
        var costs = new Dictionary<string, (double Rss, double Managed)>();
        // In the order asked for (the first kind measured also pays one-time growth, so compare orders when in doubt).
        var kinds = modes is null ? Kinds : modes.Select(mode => Kinds.Single(kind => kind.Mode == mode)).Distinct().ToArray();

        // One unrecorded round first: the first batch of connections also pays one-time growth (thread-pool threads
        // and their stacks, allocator arenas, GC bookkeeping), which made whichever kind ran first look ~10 KiB dearer.
        await IdleCostAsync(kinds[0].Mode, kinds[0].EndPoint(server), count, root, warmUp: true);

        // Each other kind's code path is compiled and its types loaded once per process (JIT code and loader heaps are
        // RSS): a small unrecorded round per kind keeps that one-time cost out of whichever kind runs it first.
        foreach (var kind in kinds.Skip(1))
        {
            await IdleCostAsync(kind.Mode, kind.EndPoint(server), Math.Min(count, WarmUpPerKind), root, warmUp: true);
        }

        // Rounds over all kinds in turn, each kind's median kept: RSS growth of one round moves by about ±0.5 KiB a
        // connection (GC and allocator state the previous round left), managed growth by far less.
        var samples = kinds.ToDictionary(kind => kind.Mode, _ => new List<(double Rss, double Managed)>());
        for (var round = 0; round < Math.Max(1, Rounds); round++)
        {
            foreach (var kind in kinds)
            {
                samples[kind.Mode].Add(await IdleCostAsync(kind.Mode, kind.EndPoint(server), count, root));
            }
        }

        foreach (var (mode, list) in samples)
        {
            costs[mode] = (LoadHarness.Median(list.Select(s => s.Rss)), LoadHarness.Median(list.Select(s => s.Managed)));
        }

        var bare = costs.GetValueOrDefault("plain").Rss;
        var direct = costs.GetValueOrDefault("direct").Rss;
        var rows = new List<string[]>();
        var ok = true;
        foreach (var kind in kinds)
        {
            var (rss, managed) = costs[kind.Mode];
            var (target, met) = kind.Mode switch
            {
                "proxy" when bare > 0 => ("≤ 1.1× bare", rss <= 1.1 * bare),
                "tunnel" when direct > 0 => ("≤ UseHttps (stretch 16)", rss <= direct),
                _ => ("", true),
            };
            ok &= met;
            rows.Add([kind.Name, (rss / 1024.0).ToString("F1", Inv), (managed / 1024.0).ToString("F1", Inv), target, target.Length == 0 ? "" : met ? "yes" : "NO"]);
        }

        LoadHarness.PrintTable(["connection", "RSS KiB each", "managed KiB each", "target", "ok"], rows);
        return ok;
    }

    /// <summary>
    /// Bytes of Kestrel's memory pool out of the pool right now (allocated - evicted - pooled), from its meter: what the
    /// held connections keep rented shows as the growth of this figure (issue 13.1: nothing pooled held by idle ones).
    /// </summary>
    private static readonly PoolWatch KestrelPool = new();

    private static async Task<(double Rss, double Managed)> IdleCostAsync(string mode, IPEndPoint endPoint, int count, string root, bool warmUp = false)
    {
        var (rssBefore, managedBefore) = Measure();
        var rentedBefore = KestrelPool.Outstanding;
        var start = ChildServer.SelfStartInfo();
        foreach (var argument in new[] { IdleClient.Command, mode, endPoint.Port.ToString(Inv), count.ToString(Inv), root })
        {
            start.ArgumentList.Add(argument);
        }

        using var child = Process.Start(start) ?? throw new InvalidOperationException("cannot start the idle client");
        try
        {
            using var ready = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            var line = await child.StandardOutput.ReadLineAsync(ready.Token);
            if (line != "READY")
            {
                throw new InvalidOperationException($"idle client: {line}");
            }

            // Let the server's last reads park (zero-byte reads, pooled buffers returned) before measuring.
            await Task.Delay(TimeSpan.FromSeconds(2));
            var (rssAfter, managedAfter) = Measure();
            Console.WriteLine($"  {mode}: Kestrel pool bytes rented per connection {(double)(KestrelPool.Outstanding - rentedBefore) / count:F0}");
            if (HoldSeconds > 0 && !warmUp)
            {
                // A window for dotnet-gcdump / dotnet-counters on this process while the connections are held.
                Console.WriteLine($"holding {count} idle '{mode}' connections for {HoldSeconds} s (pid {Environment.ProcessId})");
                await Task.Delay(TimeSpan.FromSeconds(HoldSeconds));
            }

            return ((double)(rssAfter - rssBefore) / count, (double)(managedAfter - managedBefore) / count);
        }
        finally
        {
            await child.StandardInput.WriteLineAsync("exit");
            await child.StandardInput.FlushAsync();
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await child.WaitForExitAsync(exit.Token);
            }
            catch (OperationCanceledException)
            {
                child.Kill();
            }

            // The server notices the closes asynchronously; give it a moment before the next baseline.
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
    [System.Runtime.InteropServices.DefaultDllImportSearchPaths(System.Runtime.InteropServices.DllImportSearchPath.SafeDirectories)]
    private static extern int MallocTrim(nuint pad);

    private static (long Rss, long Managed) Measure()
    {
        for (var i = 0; i < 2; i++)
        {
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        var managed = GC.GetTotalMemory(forceFullCollection: false);

        // glibc keeps freed memory in its arenas, so RSS would remember every earlier scenario's peak (the first kind
        // measured looked twice as expensive as the same kind measured later). Trimming returns free pages to the OS.
        if (OperatingSystem.IsLinux())
        {
            _ = MallocTrim(0);
        }

        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return (long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], Inv) * 1024, managed);
            }
        }

        throw new InvalidOperationException("no VmRSS in /proc/self/status");
    }

    private sealed class PoolWatch
    {
        private readonly MeterListener _listener = new();
        private long _allocated;
        private long _evicted;
        private long _pooled;

        public PoolWatch()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Microsoft.AspNetCore.MemoryPool")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            {
                switch (instrument.Name)
                {
                    case "aspnetcore.memory_pool.allocated":
                        Interlocked.Add(ref _allocated, value);
                        break;
                    case "aspnetcore.memory_pool.evicted":
                        Interlocked.Add(ref _evicted, value);
                        break;
                    case "aspnetcore.memory_pool.pooled":
                        Interlocked.Add(ref _pooled, value);
                        break;
                }
            });
            _listener.Start();
        }

        public long Outstanding => Interlocked.Read(ref _allocated) - Interlocked.Read(ref _evicted) - Interlocked.Read(ref _pooled);
    }
}
