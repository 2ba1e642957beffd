using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using ProxTunnel.Http2;
using ProxTunnel.ProxyHost;
using ProxTunnel.Rewriting;
using ProxTunnel.Tests.Rewriting;

namespace ProxTunnel.Tests.Http2;

/// <summary>The HTTP/2 frame rewriter over scripted client byte streams, read the way Kestrel reads it.</summary>
public sealed class Http2RewriterTests
{
    private const byte Data = 0x0, Headers = 0x1, Priority = 0x2, Settings = 0x4, Ping = 0x6, WindowUpdate = 0x8, Continuation = 0x9;
    private const byte EndStream = 0x1, EndHeaders = 0x4, Padded = 0x8, PriorityFlag = 0x20;

    private static readonly byte[] Preface = Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

    internal static byte[] Frame(byte type, byte flags, int stream, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[9 + payload.Length];
        Http2Frame.WriteHeader(frame, payload.Length, type, flags, stream);
        payload.CopyTo(frame.AsSpan(9));
        return frame;
    }

    internal static byte[] Block(params (string Name, string Value)[] fields)
    {
        var buffer = new byte[fields.Sum(f => HpackEncoder.MaxFieldLength(f.Name.Length, f.Value.Length))];
        var written = 0;
        foreach (var (name, value) in fields)
        {
            written += HpackEncoder.WriteField(buffer.AsSpan(written), Encoding.Latin1.GetBytes(name), Encoding.Latin1.GetBytes(value), 0, false);
        }

        return buffer[..written];
    }

    private static byte[] Request(params (string Name, string Value)[] extra)
        => Block([(":method", "GET"), (":scheme", "https"), (":path", "/x?y=1"), (":authority", "site.example"), .. extra]);

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    private sealed record Output(List<(byte Type, byte Flags, int Stream, byte[] Payload)> Frames, Http2ErrorCode? GoAway, int LastStreamId, byte[] Raw)
    {
        /// <summary>Each header block Kestrel received, decoded with a fresh decoder: the rewriter never uses Kestrel's table.</summary>
        public List<(int Stream, byte Flags, List<(string, string)> Fields)> Blocks()
        {
            var blocks = new List<(int, byte, List<(string, string)>)>();
            for (var i = 0; i < Frames.Count; i++)
            {
                if (Frames[i].Type != Headers)
                {
                    continue;
                }

                var (_, flags, stream, payload) = Frames[i];
                var block = new List<byte>((flags & PriorityFlag) != 0 ? payload[5..] : payload);
                Assert.That(flags & Padded, Is.Zero, "padding is dropped");
                var last = flags;
                while ((last & EndHeaders) == 0)
                {
                    i++;
                    Assert.That((Frames[i].Type, Frames[i].Stream), Is.EqualTo((Continuation, stream)));
                    block.AddRange(Frames[i].Payload);
                    last = Frames[i].Flags;
                }

                using var decoder = new HpackDecoder(0);
                var fields = new HeaderFieldList(1 << 20);
                Assert.That(decoder.Decode(block.ToArray(), fields), Is.EqualTo(HpackStatus.Ok));
                var list = new List<(string, string)>();
                for (var f = 0; f < fields.Count; f++)
                {
                    list.Add((Encoding.Latin1.GetString(fields.Name(fields[f])), Encoding.Latin1.GetString(fields.Value(fields[f]))));
                }

                fields.Release();
                blocks.Add((stream, flags, list));
            }

            return blocks;
        }
    }

    /// <summary>Reads the rewriter as Kestrel does: the preface, then whole frames, consuming what it parsed.</summary>
    private static async Task<Output> RunAsync(byte[] input, int[] cuts, int maxHeaderBytes = 32 * 1024, ProxyHostPages? pages = null)
    {
        var source = new ScriptedPipeReader(input, cuts);
        var options = new ProxyTunnelOptions { Prefix = "/p/" };
        options.ProxyHosts.Add("alias.example");
        var settings = new RewriteSettings(options, pages, NullLogger.Instance);
        var http2 = new Http2Settings(true, 4096, 16384, maxHeaderBytes);
        using var reader = new Http2RewritingReader(http2, settings, "test", source,
            new TunnelTarget(true, "tunnel.example", 8443, new Dictionary<string, string>()));
        var frames = new List<(byte, byte, int, byte[])>();
        var raw = new List<byte>();
        var prefaceSeen = false;
        for (var i = 0; i < 1_000_000; i++)
        {
            var result = await reader.ReadAsync();
            var buffer = result.Buffer;
            if (!prefaceSeen && buffer.Length >= 24)
            {
                Assert.That(buffer.Slice(0, 24).ToArray(), Is.EqualTo(Preface));
                raw.AddRange(buffer.Slice(0, 24).ToArray());
                buffer = buffer.Slice(24);
                prefaceSeen = true;
            }

            while (prefaceSeen && buffer.Length >= 9)
            {
                var header = buffer.Slice(0, 9).ToArray();
                var length = Http2Frame.PayloadLength(header);
                if (buffer.Length < 9 + length)
                {
                    break;
                }

                raw.AddRange(buffer.Slice(0, 9 + length).ToArray());
                frames.Add((header[3], header[4], Http2Frame.StreamId(header), buffer.Slice(9, length).ToArray()));
                buffer = buffer.Slice(9 + length);
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                reader.Complete();
                return new Output(frames, reader.GoAwayError, reader.LastStreamId, [.. raw]);
            }
        }

        throw new InvalidOperationException("the rewriter did not finish");
    }

    private static readonly byte[] SettingsFrame = Frame(Settings, 0, 0, [0, 3, 0, 0, 0, 100, 0, 4, 0, 1, 0, 0]);

    /// <summary>RFC 7541 C.4: three requests that share the dynamic table, Huffman-coded.</summary>
    private static readonly byte[][] C4 =
    [
        Convert.FromHexString("828684418cf1e3c2e5f23a6ba0ab90f4ff"),
        Convert.FromHexString("828684be5886a8eb10649cbf"),
        Convert.FromHexString("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"),
    ];

    private static byte[] BrowserLikeStream()
    {
        var second = C4[1];
        var padded = Concat([3], [0x80, 0, 0, 1, 200], second[..4], [0, 0, 0]);
        return Concat(Preface, SettingsFrame,
            Frame(Headers, EndHeaders | EndStream, 1, C4[0]),
            Frame(WindowUpdate, 0, 0, [0, 1, 0, 0]),
            Frame(Headers, Padded | PriorityFlag, 3, padded),
            Frame(Continuation, 0, 3, second.AsSpan(4, 3)),
            Frame(Continuation, EndHeaders, 3, second.AsSpan(7)),
            Frame(Data, EndStream, 3, "hello"u8),
            Frame(Priority, 0, 5, [0, 0, 0, 3, 15]),
            Frame(Headers, EndHeaders | EndStream, 5, C4[2]));
    }

    private static void AssertBrowserLikeOutput(Output output)
    {
        Assert.That(output.GoAway, Is.Null);
        var blocks = output.Blocks();
        Assert.That(blocks.Select(b => b.Stream), Is.EqualTo(new[] { 1, 3, 5 }));
        Assert.That(blocks[0].Fields, Is.EqualTo(new[]
        {
            (":path", "/p/https://www.example.com/"), (":method", "GET"), (":scheme", "http"), (":authority", "www.example.com"),
        }));
        Assert.That(blocks[1].Fields, Is.EqualTo(new[]
        {
            (":path", "/p/https://www.example.com/"), (":method", "GET"), (":scheme", "http"), (":authority", "www.example.com"),
            ("cache-control", "no-cache"),
        }));
        Assert.That(blocks[2].Fields, Is.EqualTo(new[]
        {
            (":path", "/p/https://www.example.com/index.html"), (":method", "GET"), (":scheme", "https"), (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        }));
        Assert.That(blocks.Select(b => b.Flags), Is.EqualTo(new[] { EndHeaders | EndStream, EndHeaders | PriorityFlag, EndHeaders | EndStream }));
        var second = output.Frames.Single(f => f.Type == Headers && f.Stream == 3);
        Assert.That(second.Payload[..5], Is.EqualTo(new byte[] { 0x80, 0, 0, 1, 200 }), "priority fields are kept");
        Assert.That(output.Frames.Where(f => f.Type != Headers).Select(f => Convert.ToHexString(Frame(f.Type, f.Flags, f.Stream, f.Payload))),
            Is.EqualTo(new[]
            {
                Convert.ToHexString(SettingsFrame), Convert.ToHexString(Frame(WindowUpdate, 0, 0, [0, 1, 0, 0])),
                Convert.ToHexString(Frame(Data, EndStream, 3, "hello"u8)), Convert.ToHexString(Frame(Priority, 0, 5, [0, 0, 0, 3, 15])),
            }), "every other frame passes byte for byte");
        Assert.That(output.LastStreamId, Is.EqualTo(5));
    }

    [Test]
    public async Task Rewrite_RewritesEveryPathAndPassesOtherFrames_WhenTheTableIsShared()
        => AssertBrowserLikeOutput(await RunAsync(BrowserLikeStream(), []));

    [Test]
    public async Task Rewrite_GivesTheSameFrames_WhenTheStreamIsSplitAtEveryByte()
    {
        var input = BrowserLikeStream();
        var expected = (await RunAsync(input, [])).Raw;
        for (var cut = 1; cut < input.Length; cut++)
        {
            Assert.That((await RunAsync(input, [cut])).Raw, Is.EqualTo(expected), $"cut at {cut}");
        }

        var everyByte = await RunAsync(input, [.. Enumerable.Range(1, input.Length - 1)]);
        Assert.That(everyByte.Raw, Is.EqualTo(expected), "one byte at a time");
        AssertBrowserLikeOutput(everyByte);
    }

    [Test]
    public async Task Rewrite_DropsProxyHeaders_AndRewritesTrailersWithoutAPath()
    {
        var input = Concat(Preface,
            Frame(Headers, EndHeaders, 1, Request(("proxy-authorization", "Basic eDp5"), ("x-kept", "1"), ("proxy-connection", "keep-alive"))),
            Frame(Data, 0, 1, "body"u8),
            Frame(Headers, EndHeaders | EndStream, 1, Block(("x-trailer", "t"), ("proxy-authorization", "Basic eDp5"))));
        var blocks = (await RunAsync(input, [])).Blocks();
        Assert.Multiple(() =>
        {
            Assert.That(blocks[0].Fields, Is.EqualTo(new[]
            {
                (":path", "/p/https://site.example/x?y=1"), (":method", "GET"), (":scheme", "https"), (":authority", "site.example"), ("x-kept", "1"),
            }));
            Assert.That(blocks[1].Fields, Is.EqualTo(new[] { ("x-trailer", "t") }));
            Assert.That(blocks[1].Flags, Is.EqualTo(EndHeaders | EndStream));
        });
    }

    [TestCase("Site.Example:443", "/a/../b/./c?x=/../", TestName = "Rewrite_CanonicalisesLikeHttp11_AuthorityAndDotSegments")]
    [TestCase("site.example:8443", "/", TestName = "Rewrite_CanonicalisesLikeHttp11_NonDefaultPort")]
    [TestCase("[::1]:9000", "/v6", TestName = "Rewrite_CanonicalisesLikeHttp11_IPv6")]
    [TestCase("2130706433", "/%2e%2E/x", TestName = "Rewrite_CanonicalisesLikeHttp11_NumericIPv4AndEncodedDots")]
    [TestCase("alias.example", "/page?q", TestName = "Rewrite_CanonicalisesLikeHttp11_ExtraProxyHostUnprefixed")]
    public async Task Rewrite_BuildsTheSameTargetAsHttp11AbsoluteForm(string authority, string path)
    {
        var input = Concat(Preface, Frame(Headers, EndHeaders | EndStream, 1,
            Block((":method", "GET"), (":scheme", "https"), (":path", path), (":authority", authority))));
        var blocks = (await RunAsync(input, [])).Blocks();
        var http11 = await RewriterSplitTests.RewriteAsync([], $"GET https://{authority}{path} HTTP/1.1\r\nHost: {authority}\r\n\r\n", "/p/", ["alias.example"]);
        var expected = http11.Split(' ')[1];
        Assert.That(blocks[0].Fields[0], Is.EqualTo((":path", expected)));
    }

    [Test]
    public async Task Rewrite_TakesTheAuthorityFromHost_ThenFromTheTunnel()
    {
        var input = Concat(Preface,
            Frame(Headers, EndHeaders | EndStream, 1, Block((":method", "GET"), (":scheme", "https"), (":path", "/h"), ("host", "from-host.example"))),
            Frame(Headers, EndHeaders | EndStream, 3, Block((":method", "GET"), (":scheme", "https"), (":path", "/t"))));
        var blocks = (await RunAsync(input, [])).Blocks();
        Assert.That(blocks.Select(b => b.Fields[0].Item2), Is.EqualTo(new[] { "/p/https://from-host.example/h", "/p/https://tunnel.example:8443/t" }));
    }

    [Test]
    public async Task Rewrite_RewritesExtendedConnect_ForWebSocketsOverHttp2()
    {
        var input = Concat(Preface, Frame(Headers, EndHeaders, 1,
            Block((":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"), (":path", "/chat"), (":authority", "ws.example"))));
        var blocks = (await RunAsync(input, [])).Blocks();
        Assert.That(blocks[0].Fields, Is.EqualTo(new[]
        {
            (":path", "/p/https://ws.example/chat"), (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"), (":authority", "ws.example"),
        }));
    }

    [Test]
    public async Task Rewrite_SplitsALargeBlock_IntoFramesNoLargerThanKestrelsMaximum()
    {
        var big = new string('c', 20_000);
        var input = Concat(Preface, Frame(Headers, EndStream, 1, Request(("cookie", big)).AsSpan(0, 10_000)),
            Frame(Continuation, EndHeaders, 1, Request(("cookie", big)).AsSpan(10_000)));
        var output = await RunAsync(input, [], maxHeaderBytes: 64 * 1024);
        Assert.Multiple(() =>
        {
            Assert.That(output.Frames.Select(f => f.Type), Is.EqualTo(new[] { Headers, Continuation }));
            Assert.That(output.Frames.All(f => f.Payload.Length <= 16384), Is.True);
            Assert.That(output.Frames[0].Flags, Is.EqualTo(EndStream));
            Assert.That(output.Blocks()[0].Fields.Last(), Is.EqualTo(("cookie", big)));
        });
    }

    private static async Task AssertGoAwayAsync(byte[] input, Http2ErrorCode expected, int maxHeaderBytes = 32 * 1024, int lastStream = 0,
        ProxyHostPages? pages = null)
    {
        var output = await RunAsync(input, [], maxHeaderBytes, pages);
        Assert.Multiple(() =>
        {
            Assert.That(output.GoAway, Is.EqualTo(expected));
            Assert.That(output.LastStreamId, Is.EqualTo(lastStream));
            Assert.That(output.Frames.Count(f => f.Type is Headers or Continuation), Is.EqualTo(lastStream == 0 ? 0 : 1), "nothing of the bad block reaches Kestrel");
        });

        // However the bytes arrive, the outcome is the same.
        var cuts = Enumerable.Range(1, Math.Min(input.Length - 1, 400)).ToArray();
        Assert.That((await RunAsync(input, cuts, maxHeaderBytes, pages)).GoAway, Is.EqualTo(expected));
    }

    [Test]
    public Task GoAway_CompressionError_WhenTheTableSizeUpdateExceedsTheAdvertisedSize()
        => AssertGoAwayAsync(Concat(Preface, SettingsFrame, Frame(Headers, EndHeaders, 1, Concat(Convert.FromHexString("3fe21f"), Request()))),
            Http2ErrorCode.CompressionError);

    [Test]
    public async Task Rewrite_AcceptsTableSizeUpdates_WithinTheAdvertisedSize()
    {
        var input = Concat(Preface, Frame(Headers, EndHeaders, 1, Concat([0x20], C4[0])),
            Frame(Headers, EndHeaders, 3, Concat(Convert.FromHexString("3fe11f"), Request())));
        var output = await RunAsync(input, []);
        Assert.That((output.GoAway, output.Blocks().Count), Is.EqualTo(((Http2ErrorCode?)null, 2)));
    }

    [Test]
    public Task GoAway_CompressionError_WhenHuffmanIsMalformed()
        => AssertGoAwayAsync(Concat(Preface, Frame(Headers, EndHeaders, 1, Convert.FromHexString("82864085ffffffffff0161"))), Http2ErrorCode.CompressionError);

    [Test]
    public Task GoAway_CompressionError_WhenAnIndexIsNotInTheTable()
        => AssertGoAwayAsync(Concat(Preface, Frame(Headers, EndHeaders, 1, C4[0]), Frame(Headers, EndHeaders, 3, Convert.FromHexString("82c5"))),
            Http2ErrorCode.CompressionError, lastStream: 1);

    [Test]
    public Task GoAway_EnhanceYourCalm_WhenTheDecodedBlockExceedsTheLimit()
        => AssertGoAwayAsync(Concat(Preface, Frame(Headers, EndHeaders, 1, Request(("x-big", new string('b', 2000))))),
            Http2ErrorCode.EnhanceYourCalm, maxHeaderBytes: 1024);

    [Test]
    public Task GoAway_EnhanceYourCalm_OnAContinuationFlood()
        => AssertGoAwayAsync(Concat([Preface, Frame(Headers, 0, 1, Request().AsSpan(0, 3)), .. Enumerable.Repeat(Frame(Continuation, 0, 1, []), 200)]),
            Http2ErrorCode.EnhanceYourCalm);

    [Test]
    public Task GoAway_FrameSizeError_WhenAHeadersFrameIsLargerThanTheMaximum()
        => AssertGoAwayAsync(Concat(Preface, Frame(Headers, EndHeaders, 1, new byte[16385])), Http2ErrorCode.FrameSizeError);

    [Test]
    public Task GoAway_ProtocolError_WhenAFrameInterruptsAHeaderBlock()
        => AssertGoAwayAsync(Concat(Preface, Frame(Headers, 0, 1, Request().AsSpan(0, 5)), Frame(Ping, 0, 0, new byte[8]), Frame(Continuation, EndHeaders, 1, Request().AsSpan(5))),
            Http2ErrorCode.ProtocolError);

    [Test]
    public Task GoAway_ProtocolError_WhenPaddingIsLongerThanTheFrame()
        => AssertGoAwayAsync(Concat(Preface, Frame(Headers, EndHeaders | Padded, 1, Concat([200], Request()))), Http2ErrorCode.ProtocolError);

    [Test]
    public Task GoAway_ProtocolError_WhenThePrefaceIsWrong()
        => AssertGoAwayAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Http2ErrorCode.ProtocolError);

    [Test]
    public Task GoAway_ProtocolError_WhenARequestHasNoPath()
        => AssertGoAwayAsync(Concat(Preface, Frame(Headers, EndHeaders, 1, Block((":method", "GET"), (":scheme", "https"), (":authority", "a.example")))),
            Http2ErrorCode.ProtocolError);

    [TestCase(":path", TestName = "GoAway_ProtocolError_WhenPathIsRepeated")]
    [TestCase("x-regular", TestName = "GoAway_ProtocolError_WhenPathFollowsARegularField")]
    public Task GoAway_ProtocolError_WhenPathIsMisplaced(string before)
        => AssertGoAwayAsync(Concat(Preface, Frame(Headers, EndHeaders, 1,
                Block((":method", "GET"), (":scheme", "https"), (before, "/a"), (":path", "/b"), (":authority", "a.example")))),
            Http2ErrorCode.ProtocolError);

    [Test]
    public Task GoAway_ProtocolError_OnAPlainConnectInsideTheTunnel()
        => AssertGoAwayAsync(Concat(Preface, Frame(Headers, EndHeaders, 1, Block((":method", "CONNECT"), (":authority", "other.example:443")))),
            Http2ErrorCode.ProtocolError);

    [TestCase("a.example/evil")]
    [TestCase("user@a.example")]
    [TestCase("a.example:99999")]
    public Task GoAway_ProtocolError_WhenTheAuthorityIsInvalid(string authority)
        => AssertGoAwayAsync(Concat(Preface, Frame(Headers, EndHeaders, 1, Block((":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", authority)))),
            Http2ErrorCode.ProtocolError);

    [Test]
    public async Task GoAway_Http11Required_ForTheLibrarysOwnPages()
    {
        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-tests", Guid.NewGuid().ToString("N"));
        using var authority = new ProxTunnel.Certificates.ProxyCertificateAuthority(
            new ProxTunnel.Certificates.CertificateAuthorityOptions { RootCertificatePath = Path.Combine(directory, "ca.pem") });
        try
        {
            var pages = new ProxyHostPages(authority, "proxtunnel");
            await AssertGoAwayAsync(Concat(Preface, Frame(Headers, EndHeaders, 1,
                Block((":method", "GET"), (":scheme", "https"), (":path", "/download/pem"), (":authority", "proxtunnel")))), Http2ErrorCode.Http11Required, pages: pages);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task Rewrite_PassesLargeDataFrames_InPiecesAsTheyArrive()
    {
        var body = new byte[16384];
        Random.Shared.NextBytes(body);
        var input = Concat(Preface, Frame(Headers, EndHeaders, 1, Request()), Frame(Data, EndStream, 1, body));
        var output = await RunAsync(input, [.. Enumerable.Range(1, 80).Select(i => i * 211)]);
        Assert.That(output.Frames.Last().Payload, Is.EqualTo(body));
    }

    [Test]
    public async Task GoAway_EnhanceYourCalm_WhenAHeaderBlockDoesNotCompleteInTime()
    {
        var pipe = new System.IO.Pipelines.Pipe();
        await pipe.Writer.WriteAsync(Concat(Preface, Frame(Headers, EndHeaders, 1, Request()), Frame(Headers, 0, 3, Request().AsSpan(0, 4))));
        var options = new ProxyTunnelOptions { Prefix = "/p/", RequestHeadersTimeout = TimeSpan.FromMilliseconds(200) };
        var settings = new RewriteSettings(options, pages: null, NullLogger.Instance);
        using var reader = new Http2RewritingReader(new Http2Settings(true, 4096, 16384, 32 * 1024), settings, "slow", pipe.Reader,
            new TunnelTarget(true, "tunnel.example", 443, new Dictionary<string, string>()));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var handed = 0L;
        for (var i = 0; i < 100; i++)
        {
            var result = await reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            handed += result.Buffer.Length;
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(reader.GoAwayError, Is.EqualTo(Http2ErrorCode.EnhanceYourCalm));
            Assert.That(reader.LastStreamId, Is.EqualTo(1));
            Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(150)));
        });
        await pipe.Writer.CompleteAsync();
    }
}
