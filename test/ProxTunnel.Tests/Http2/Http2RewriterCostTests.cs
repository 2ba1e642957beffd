using System.IO.Pipelines;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using ProxTunnel.Http2;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Tests.Http2;

/// <summary>The rewriter's steady-state cost: nothing allocated per request (timings are for BenchmarkDotNet; this prints one).</summary>
public sealed class Http2RewriterCostTests
{
    /// <summary>A browser-like first request (literals with incremental indexing, Huffman-free) and the follow-ups a
    /// browser sends once the table is warm: indexed fields and a new literal :path.</summary>
    private static byte[] BrowserStream(int requests)
    {
        var first = new List<byte> { 0x82, 0x87 };
        void Indexed(string name, string value)
        {
            first.Add(0x40);
            first.Add((byte)name.Length);
            first.AddRange(Encoding.ASCII.GetBytes(name));
            first.Add((byte)value.Length);
            first.AddRange(Encoding.ASCII.GetBytes(value));
        }

        Indexed(":authority", "www.example.com");
        first.AddRange(Convert.FromHexString("0408"));
        first.AddRange("/index.h"u8.ToArray());
        Indexed("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36");
        Indexed("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8");
        Indexed("accept-language", "en-US,en;q=0.9");
        Indexed("sec-ch-ua", "\"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"");
        Indexed("cookie", "session=0123456789abcdef0123456789abcdef; theme=dark");
        var stream = new List<byte>("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray());
        stream.AddRange(Http2RewriterTests.Frame(0x1, 0x5, 1, first.ToArray()));
        for (var i = 1; i < requests; i++)
        {
            var path = $"/static/asset-{i % 1000:D4}.js?v=3";
            byte[] block = [0x82, 0x87, 0xC3, 0x04, (byte)path.Length, .. Encoding.ASCII.GetBytes(path), 0xC2, 0xC1, 0xC0, 0xBF, 0xBE];
            stream.AddRange(Http2RewriterTests.Frame(0x1, 0x5, 1 + 2 * i, block));
        }

        return [.. stream];
    }

    private static async Task<(long Bytes, TimeSpan Time, int Blocks)> DrainAsync(byte[] input)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        await pipe.Writer.WriteAsync(input);
        await pipe.Writer.CompleteAsync();
        var settings = new RewriteSettings(new ProxyTunnelOptions { Prefix = "/p/" }, pages: null, NullLogger.Instance);
        using var reader = new Http2RewritingReader(new Http2Settings(true, 4096, 16384, 32 * 1024), settings, "cost", pipe.Reader,
            new TunnelTarget(true, "www.example.com", 443, new Dictionary<string, string>()));
        var blocks = 0;
        var before = GC.GetAllocatedBytesForCurrentThread();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 1_000_000; i++)
        {
            var result = await reader.ReadAsync();
            blocks++;
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        clock.Stop();
        Assert.That(reader.GoAwayError, Is.Null);
        return (GC.GetAllocatedBytesForCurrentThread() - before, clock.Elapsed, blocks);
    }

    [Test]
    public async Task Rewrite_AllocatesNothingPerRequest_InSteadyState()
    {
        // Warm up long enough for tiered compilation to finish, so the printed figure is not Tier-0 code.
        var warmUp = BrowserStream(20_000);
        for (var i = 0; i < 10; i++)
        {
            await DrainAsync(warmUp);
        }

        var small = await DrainAsync(BrowserStream(1000));
        var large = await DrainAsync(BrowserStream(11000));
        var perRequest = (large.Time - small.Time).TotalMicroseconds / 10000;
        TestContext.Out.WriteLine($"allocated {small.Bytes} B for 1 000 requests, {large.Bytes} B for 11 000; about {perRequest:F2} µs per header block here");
        Assert.That(large.Bytes - small.Bytes, Is.LessThan(10_000), "less than a byte per request: nothing allocated per request");
    }
}
