using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using ProxTunnel.Http2;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Benchmarks.Http2;

/// <summary>
/// The HTTP/2 rewriter's cost per request header block, driven the way Kestrel drives it: one <c>ReadAsync</c> that
/// returns the rewritten HEADERS frame, then <c>AdvanceTo</c> its end. The client's block is what a browser sends
/// for a sub-resource once its HPACK dynamic table is warm (17 fields, 49 bytes: every field indexed except a
/// Huffman-coded <c>:path</c>, bytes produced by Python's hpack). One operation is one request on a long-lived
/// connection, so the allocation column is the steady-state cost. <see cref="SourceOnly"/> is the harness alone;
/// <see cref="DecodeOnly"/> is the HPACK decoding part of the work (the steady block adds nothing to the table, so it
/// decodes the same way every time).
/// </summary>
[MemoryDiagnoser]
public class HeaderBlockRewriteBenchmarks
{
    /// <summary>The first request of the connection: every field a literal with incremental indexing, Huffman-coded.</summary>
    private static readonly byte[] FirstBlock = Convert.FromHexString(
        "8241882f91d35d055c87a787149f607624c4a0a86040136c5761fcfaff2d4d3120f6d842c1294b27c56398b00b40874148b1275ad1ffa4fe6f" +
        "4f61e935b4ff3f7de0fe42db9fcfd29fce93a7fb87eeed83aa4fe7efbc1fc89afe7f408b4148b1275ad1ad49e3350582ff017aced07f66a281" +
        "b0dae053fafc087ed4ce6aadf2a7979c89c6bfb521aeba0bc8b1e632586d975765c53facd8f7e8cff4a506ea5531149d4ffda97a7b0f49580b" +
        "6e2e05c0b814dc394761986d975765cf408d4148b1275ad1ad5d034ca7b29f87fe739aab7cff3f53b1352398ac0fb9a5fa352398ac782c75fd" +
        "1a91cc56075d537d1a91cc5611de6ff7e69a3e8d48e62b1f3f5f2c7cfdf6800bbd408a4148b4a549275906497f8840e92ac7b0d31aaf408a41" +
        "48b4a549275a93c85f85a8eb10f623408a4148b4a549275a42a13f84352398bf73959d29ad171860be474d7415721e9607624c4a0a863f5092" +
        "9bd9abfa5242cb40d25fa523b3e94f684c9f518b2d4b70ddf45abefb4005df609a4150831ea81994247c6e95b8c52344701f6a2672d258241d" +
        "9d7f4086aec31ec327d785b600fd286f");

    /// <summary>Every later request: the same fields, now all indexed, and <c>:path</c> never indexed.</summary>
    private static readonly byte[] SteadyBlock = Convert.FromHexString(
        "82cb87149f607624c4a0a86040136c5761fcfaff2d4d3120f6d842c1294b27c56398b00bcac9c8c7c6c5c4c3c2c1c0bfbe");

    private const string RewrittenPath = "/prefix/https://example.com/articles/2025/proxy?utm_source=feed&page=2";

    private PipeReader _source = null!;
    private Http2RewritingReader _rewriter = null!;
    private HpackDecoder _decoder = null!;
    private HeaderFieldList _fields = null!;

    [GlobalSetup]
    public void Setup()
    {
        _source = HeadersFrameSource.Create(FirstBlock, SteadyBlock);
        _decoder = new HpackDecoder(4096);
        _fields = new HeaderFieldList(32 * 1024);
        if (_decoder.Decode(FirstBlock, _fields) != HpackStatus.Ok || DecodeOnly() != 17)
        {
            throw new InvalidOperationException("the browser blocks do not decode to 17 fields");
        }

        var settings = new RewriteSettings(new ProxyTunnelOptions { Prefix = "/prefix/" }, pages: null, NullLogger.Instance);
        var tunnel = new TunnelTarget(true, "example.com", 443, new Dictionary<string, string>());
        var http2 = new Http2Settings(enabled: true, headerTableSize: 4096, maxFrameSize: 16384, maxHeaderBytes: 32 * 1024);
        _rewriter = new Http2RewritingReader(http2, settings, "bench", HeadersFrameSource.Create(FirstBlock, SteadyBlock), tunnel);

        // Check that the benchmark measures what it claims: preface and SETTINGS pass, then every block is rewritten.
        var opening = Read(_rewriter);
        _rewriter.AdvanceTo(opening.Buffer.End);
        for (var i = 0; i < 4; i++)
        {
            var block = Read(_rewriter);
            var text = Encoding.Latin1.GetString(block.Buffer);
            if (block.Buffer.FirstSpan[3] != 0x1 || !text.Contains(RewrittenPath, StringComparison.Ordinal) || !text.Contains("Chrome/156", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("unexpected rewritten block: " + Convert.ToHexString(block.Buffer.ToArray()));
            }

            _rewriter.AdvanceTo(block.Buffer.End);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _rewriter.Dispose();
        _decoder.Dispose();
    }

    [Benchmark(Baseline = true)]
    public long SourceOnly() => Request(_source);

    [Benchmark]
    public long BrowserHeaderBlock() => Request(_rewriter);

    [Benchmark]
    public int DecodeOnly()
    {
        _fields.Release();
        _decoder.Decode(SteadyBlock, _fields);
        return _fields.Count;
    }

    private static long Request(PipeReader reader)
    {
        var result = Read(reader);
        var length = result.Buffer.Length;
        reader.AdvanceTo(result.Buffer.End);
        return length;
    }

    /// <summary>Both readers complete synchronously here; anything else is a harness bug.</summary>
    private static ReadResult Read(PipeReader reader)
    {
        var pending = reader.ReadAsync();
        return pending.IsCompletedSuccessfully ? pending.Result : throw new InvalidOperationException("read did not complete synchronously");
    }
}
