using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// HTTP/2 keep-alive req/s with h2load (Debian nghttp2-client): straight to Kestrel's UseHttps listener, and through
/// the proxy by way of a <see cref="ConnectShim"/> (h2load cannot use a proxy itself), in direct/tunnel/tunnel/direct
/// quarters against drift. Both runs speak TLS and h2 with the same h2load settings, and the direct run goes through a
/// plain in-process relay so that both pay for the same extra hop.
/// </summary>
internal static partial class Http2Load
{
    public const string H2LoadPath = "/usr/bin/h2load";
    private const string TunnelHost = "example.com";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Standalone: <c>load-h2 [--seconds N] [--connections N] [--streams N]</c>.</summary>
    public static async Task<int> RunStandaloneAsync(string[] args)
    {
        var seconds = 20;
        var connections = 32;
        var streams = 10;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = int.Parse(args[i + 1], Inv);
            switch (args[i])
            {
                case "--seconds": seconds = value; break;
                case "--connections": connections = value; break;
                case "--streams": streams = value; break;
                default:
                    Console.Error.WriteLine("usage: load-h2 [--seconds N] [--connections N] [--streams N]");
                    return 2;
            }
        }

        await using var server = await BenchServer.StartAsync();
        return await RunAsync(server, connections, seconds, streams) ? 0 : 1;
    }

    /// <summary>Prints one comparison row; false when h2load is missing or a run did not use h2 or had errors.</summary>
    public static async Task<bool> RunAsync(BenchServer server, int connections, int seconds, int streams = 10)
    {
        if (!File.Exists(H2LoadPath))
        {
            Console.WriteLine("HTTP/2 keep-alive: skipped, h2load is not installed (apt-get install nghttp2-client)");
            Console.WriteLine();
            return false;
        }

        await using var shim = ConnectShim.Start(server.Proxy, TunnelHost, 443);
        await using var relay = ConnectShim.StartRelay(server.DirectHttps);
        var quarter = TimeSpan.FromSeconds(seconds) / 4;
        string[] common = ["-t", "1", "-c", connections.ToString(Inv), "-m", streams.ToString(Inv)];
        string[] direct = [.. common, $"--connect-to=127.0.0.1:{relay.Port}", "https://localhost/hello"];
        string[] tunnel = [.. common, $"--connect-to=127.0.0.1:{shim.Port}", $"https://{TunnelHost}/hello"];

        // Warm both paths (JIT, certificate cache) before anything is measured.
        await RunH2LoadAsync(direct, TimeSpan.FromSeconds(1));
        await RunH2LoadAsync(tunnel, TimeSpan.FromSeconds(1));
        var d1 = await RunH2LoadAsync(direct, quarter);
        var p1 = await RunH2LoadAsync(tunnel, quarter);
        var p2 = await RunH2LoadAsync(tunnel, quarter);
        var d2 = await RunH2LoadAsync(direct, quarter);
        var runs = new[] { d1, p1, p2, d2 };
        var directRate = (d1.RequestsPerSecond + d2.RequestsPerSecond) / 2;
        var tunnelRate = (p1.RequestsPerSecond + p2.RequestsPerSecond) / 2;
        var ratio = tunnelRate / directRate;
        var ok = runs.All(r => r.Protocol == "h2" && r.Failed == 0 && r.Errored == 0);
        Console.WriteLine($"HTTP/2 keep-alive req/s (h2load -c {connections} -m {streams}, {seconds} s in quarters)");
        Console.WriteLine($"  direct UseHttps h2 (via a relay) {directRate.ToString("F0", Inv)}, through the tunnel {tunnelRate.ToString("F0", Inv)}, " +
            $"ratio {ratio.ToString("F2", Inv)} (target ≥ 0.9: {(ratio >= 0.9 ? "yes" : "NO")})");
        if (!ok)
        {
            Console.WriteLine("  WARNING: a run did not negotiate h2 or had failed requests: " + string.Join("; ", runs.Select(r => r.Summary)));
        }

        Console.WriteLine();
        return ok;
    }

    private sealed record H2LoadResult(double RequestsPerSecond, string Protocol, long Failed, long Errored, string Summary);

    private static async Task<H2LoadResult> RunH2LoadAsync(string[] arguments, TimeSpan duration)
    {
        var info = new ProcessStartInfo(H2LoadPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments.Prepend($"{(int)duration.TotalMilliseconds}ms").Prepend("-D"))
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start h2load");
        using var deadline = new CancellationTokenSource(duration + TimeSpan.FromSeconds(60));
        var stdout = process.StandardOutput.ReadToEndAsync(deadline.Token);
        var stderr = process.StandardError.ReadToEndAsync(deadline.Token);
        await process.WaitForExitAsync(deadline.Token);
        var output = await stdout + await stderr;
        var rate = RateLine().Match(output);
        var requests = RequestsLine().Match(output);
        var protocol = ProtocolLine().Match(output);
        if (process.ExitCode != 0 || !rate.Success || !requests.Success)
        {
            throw new InvalidOperationException($"h2load {string.Join(' ', info.ArgumentList)} failed (exit {process.ExitCode}):\n{output}");
        }

        return new H2LoadResult(double.Parse(rate.Groups[1].Value, Inv), protocol.Success ? protocol.Groups[1].Value : "?",
            long.Parse(requests.Groups[1].Value, Inv), long.Parse(requests.Groups[2].Value, Inv), requests.Value);
    }

    [GeneratedRegex(@"finished in [0-9.]+m?s, ([0-9.]+) req/s")]
    private static partial Regex RateLine();

    [GeneratedRegex(@"requests: .* ([0-9]+) failed, ([0-9]+) errored")]
    private static partial Regex RequestsLine();

    [GeneratedRegex(@"Application protocol: (\S+)")]
    private static partial Regex ProtocolLine();
}
