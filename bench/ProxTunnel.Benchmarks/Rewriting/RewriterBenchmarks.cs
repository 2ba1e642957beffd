using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Benchmarks.Rewriting;

/// <summary>
/// The request-head rewriter driven directly, the way Kestrel drives it: one <c>ReadAsync</c> for the head, advance to
/// its end, then body reads advanced to their end until the body is consumed. One operation is one request on a
/// keep-alive connection (the rewriter is reused, as it is for a connection's lifetime), so the allocation column is
/// the steady-state cost per request head. <see cref="RawSource"/> is the same loop without the rewriter: the harness's
/// own cost.
/// </summary>
[MemoryDiagnoser, MinColumn, MedianColumn]
public class RewriterBenchmarks
{
    /// <summary>A Chrome-like navigation through a plain proxy: absolute-form, 19 header lines, about 600 bytes.</summary>
    internal const string BrowserHeaders =
        "Host: example.com\r\n" +
        "Connection: keep-alive\r\n" +
        "Cache-Control: max-age=0\r\n" +
        "sec-ch-ua: \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"\r\n" +
        "sec-ch-ua-mobile: ?0\r\n" +
        "sec-ch-ua-platform: \"Linux\"\r\n" +
        "Upgrade-Insecure-Requests: 1\r\n" +
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n" +
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
        "Sec-Fetch-Site: none\r\n" +
        "Sec-Fetch-Mode: navigate\r\n" +
        "Sec-Fetch-User: ?1\r\n" +
        "Sec-Fetch-Dest: document\r\n" +
        "Referer: http://example.com/\r\n" +
        "Accept-Encoding: gzip, deflate, br, zstd\r\n" +
        "Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n" +
        "Cookie: session=3f1c9a7e5b2d4c60; theme=dark\r\n";

    internal const string BrowserHead =
        "GET http://example.com/articles/2025/proxy?utm_source=feed&page=2 HTTP/1.1\r\n" +
        "Proxy-Connection: keep-alive\r\n" +
        BrowserHeaders + "\r\n";

    internal const string TunnelHead =
        "GET /articles/2025/proxy?utm_source=feed&page=2 HTTP/1.1\r\n" + BrowserHeaders + "\r\n";

    /// <summary>A chunked upload: five chunks (one with an extension) and a trailer.</summary>
    internal static readonly string ChunkedUpload =
        "POST http://example.com/upload HTTP/1.1\r\n" +
        "Host: example.com\r\n" +
        "User-Agent: curl/8.11.0\r\n" +
        "Accept: */*\r\n" +
        "Content-Type: application/octet-stream\r\n" +
        "Transfer-Encoding: chunked\r\n" +
        "\r\n" +
        Chunk(100) + Chunk(1000, ";name=value") + Chunk(16) + Chunk(4096) + Chunk(1) +
        "0\r\nX-Checksum: abc\r\n\r\n";

    private Driver _raw = null!;
    private Driver _absolute = null!;
    private Driver _tunnel = null!;
    private Driver _origin = null!;
    private Driver _chunked = null!;
    private Driver _oneByte = null!;

    [GlobalSetup]
    public void Setup()
    {
        var settings = new RewriteSettings(new ProxyTunnelOptions { Prefix = "/prefix/" }, pages: null, NullLogger.Instance);
        var tunnel = new TunnelTarget(true, "example.com", 443, new Dictionary<string, string>());
        _raw = Driver.Raw(Bytes(BrowserHead));
        _absolute = Driver.Rewriting(settings, Bytes(BrowserHead), null, "GET /prefix/http://example.com/articles/2025/proxy?utm_source=feed&page=2 HTTP/1.1\r\nHost:");
        _tunnel = Driver.Rewriting(settings, Bytes(TunnelHead), tunnel, "GET /prefix/https://example.com/articles/2025/proxy?utm_source=feed&page=2 HTTP/1.1\r\nHost:");
        _origin = Driver.Rewriting(settings, Bytes("GET /hello HTTP/1.1\r\n" + BrowserHeaders + "\r\n"), null, "GET /hello HTTP/1.1\r\n");
        _chunked = Driver.Rewriting(settings, Bytes(ChunkedUpload), null, "POST /prefix/http://example.com/upload HTTP/1.1\r\n");
        _oneByte = Driver.Rewriting(settings, ByteSegment.Split(Encoding.ASCII.GetBytes(BrowserHead)), null, "GET /prefix/http://example.com/articles/");
    }

    [Benchmark(Baseline = true)]
    public long RawSource() => _raw.Request();

    [Benchmark]
    public long AbsoluteFormBrowserHead() => _absolute.Request();

    [Benchmark]
    public long OriginFormInTlsTunnel() => _tunnel.Request();

    [Benchmark]
    public long OriginFormNotProxied() => _origin.Request();

    [Benchmark]
    public long ChunkedUploadFraming() => _chunked.Request();

    [Benchmark]
    public long OneByteSegmentsBrowserHead() => _oneByte.Request();

    private static ReadOnlySequence<byte> Bytes(string text) => new(Encoding.ASCII.GetBytes(text));

    private static string Chunk(int size, string extension = "") => size.ToString("x") + extension + "\r\n" + new string('a', size) + "\r\n";

    /// <summary>One simulated connection: a source replaying one request and the reader Kestrel would read.</summary>
    private sealed class Driver
    {
        private readonly PipeReader _reader;
        private readonly long _bodyLength;

        private Driver(PipeReader reader, long bodyLength)
        {
            _reader = reader;
            _bodyLength = bodyLength;
        }

        public static Driver Raw(ReadOnlySequence<byte> request) => new(new ReplayPipeReader(request), 0);

        public static Driver Rewriting(RewriteSettings settings, ReadOnlySequence<byte> request, TunnelTarget? tunnel, string expectedStart)
        {
            var rewriter = new RewritingPipeReader(settings, "bench");
            rewriter.Start(new ReplayPipeReader(request), new ResponseSniffingWriter(new NullPipeWriter()), tunnel);
            var headLength = HeadLength(request);
            var driver = new Driver(rewriter, request.Length - headLength);

            // Check that the benchmark measures what it claims: the head is rewritten and the body passes through whole.
            for (var i = 0; i < 3; i++)
            {
                var head = Read(rewriter);
                var text = Encoding.ASCII.GetString(head.Buffer);
                if (!text.StartsWith(expectedStart, StringComparison.Ordinal) || !text.EndsWith("\r\n\r\n", StringComparison.Ordinal) || text.Contains("Proxy-Connection", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException("unexpected rewritten head: " + text);
                }

                rewriter.AdvanceTo(head.Buffer.End);
                if (driver.ReadBody() != driver._bodyLength)
                {
                    throw new InvalidOperationException("body not passed through whole");
                }
            }

            return driver;
        }

        public long Request()
        {
            var head = Read(_reader);
            var length = head.Buffer.Length;
            _reader.AdvanceTo(head.Buffer.End);
            return length + ReadBody();
        }

        private long ReadBody()
        {
            long read = 0;
            while (read < _bodyLength)
            {
                var body = Read(_reader);
                if (body.Buffer.IsEmpty)
                {
                    throw new InvalidOperationException("body ended early");
                }

                read += body.Buffer.Length;
                _reader.AdvanceTo(body.Buffer.End);
            }

            return read;
        }

        private static ReadResult Read(PipeReader reader)
        {
            var pending = reader.ReadAsync();
            return pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
        }

        private static long HeadLength(ReadOnlySequence<byte> request)
        {
            var reader = new SequenceReader<byte>(request);
            return reader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n\r\n"u8) ? reader.Consumed : throw new InvalidOperationException("no head end");
        }
    }
}
