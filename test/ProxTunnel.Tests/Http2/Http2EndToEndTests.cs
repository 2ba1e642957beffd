using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.WebSockets;
using System.Text;
using ProxTunnel.Http2;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Http2;

/// <summary>Raw HTTP/2 frames and WebSockets through a real tunnel: what a hostile or unusual client sees.</summary>
public sealed class Http2EndToEndTests
{
    private static async Task<(RawHttpConnection Connection, SslStream Ssl)> OpenH2TunnelAsync(TestApp app)
    {
        var connection = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await connection.ConnectAsync("example.com:443")).Status, Is.EqualTo(200));
        var ssl = await connection.StartTlsAsync(app, "example.com", [SslApplicationProtocol.Http2]);
        Assert.That(ssl.NegotiatedApplicationProtocol, Is.EqualTo(SslApplicationProtocol.Http2));
        return (connection, ssl);
    }

    private static async Task<(byte Type, byte Flags, int Stream, byte[] Payload)?> ReadFrameAsync(Stream stream, CancellationToken cancellationToken)
    {
        var header = new byte[9];
        try
        {
            await stream.ReadExactlyAsync(header, cancellationToken);
            var payload = new byte[Http2Frame.PayloadLength(header)];
            await stream.ReadExactlyAsync(payload, cancellationToken);
            return (header[3], header[4], Http2Frame.StreamId(header), payload);
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException)
        {
            return null;
        }
    }

    /// <summary>Reads frames until the server closes; returns them all.</summary>
    private static async Task<List<(byte Type, byte Flags, int Stream, byte[] Payload)>> ReadUntilClosedAsync(Stream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var frames = new List<(byte, byte, int, byte[])>();
        for (var i = 0; i < 10_000; i++)
        {
            if (await ReadFrameAsync(stream, timeout.Token) is not { } frame)
            {
                return frames;
            }

            frames.Add(frame);
        }

        throw new InvalidOperationException("too many frames");
    }

    private static byte[] ClientStart(params byte[][] frames)
        => [.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, .. Http2RewriterTests.Frame(0x4, 0, 0, []), .. frames.SelectMany(f => f)];

    private static byte[] Get(int stream, string path) => Http2RewriterTests.Frame(0x1, 0x5, stream,
        Http2RewriterTests.Block((":method", "GET"), (":scheme", "https"), (":path", path), (":authority", "example.com")));

    [Test]
    public async Task UndecodableHeaderBlock_EndsTheConnectionWithGoAwayCompressionError_AfterEarlierStreamsAreAnswered()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        var (connection, ssl) = await OpenH2TunnelAsync(app);
        await using (connection)
        {
            await ssl.WriteAsync(ClientStart(Get(1, "/good")));
            using var first = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            for (var i = 0; i < 100; i++)
            {
                var frame = await ReadFrameAsync(ssl, first.Token);
                Assert.That(frame, Is.Not.Null);
                if (frame!.Value.Type == 0x0 && (frame.Value.Flags & 0x1) != 0)
                {
                    break;
                }
            }

            await ssl.WriteAsync(Http2RewriterTests.Frame(0x1, 0x5, 3, Convert.FromHexString("82864085ffffffffff0161")));
            var frames = await ReadUntilClosedAsync(ssl);
            var goAway = frames.Last(f => f.Type == Http2Frame.TypeGoAway);
            Assert.Multiple(() =>
            {
                Assert.That(BinaryPrimitives.ReadInt32BigEndian(goAway.Payload.AsSpan(4)), Is.EqualTo((int)Http2ErrorCode.CompressionError));
                Assert.That(BinaryPrimitives.ReadInt32BigEndian(goAway.Payload) & 0x7FFFFFFF, Is.EqualTo(1));
                Assert.That(app.SeenTargets, Is.EqualTo(new[] { "/p/https://example.com/good" }));
            });
        }
    }

    [Test]
    public async Task ContinuationFlood_EndsTheConnectionWithGoAwayEnhanceYourCalm()
    {
        await using var app = await TestApp.StartAsync();
        var (connection, ssl) = await OpenH2TunnelAsync(app);
        await using (connection)
        {
            var flood = Enumerable.Range(0, 500).SelectMany(_ => Http2RewriterTests.Frame(0x9, 0, 1, [0x82])).ToArray();
            await ssl.WriteAsync(ClientStart(Http2RewriterTests.Frame(0x1, 0, 1, [0x82]), flood));
            var frames = await ReadUntilClosedAsync(ssl);
            var goAway = frames.Last(f => f.Type == Http2Frame.TypeGoAway);
            Assert.That(BinaryPrimitives.ReadInt32BigEndian(goAway.Payload.AsSpan(4)), Is.EqualTo((int)Http2ErrorCode.EnhanceYourCalm));
            Assert.That(app.SeenTargets, Is.Empty);
        }
    }

    [Test]
    public async Task ClientWebSocket_OverHttp2_ReachesTheAppWithTheRewrittenTarget()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        using var client = app.CreateClient();
        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.CollectHttpResponseDetails = true;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.ConnectAsync(new Uri("wss://example.com/chat?room=1"), client, cts.Token);
        await socket.SendAsync(Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text, true, cts.Token);
        var buffer = new byte[4096];
        var received = await socket.ReceiveAsync(buffer, cts.Token);
        Assert.Multiple(() =>
        {
            Assert.That(socket.HttpStatusCode, Is.EqualTo(HttpStatusCode.OK), "HTTP/2 WebSockets answer 200, not 101");
            Assert.That(Encoding.UTF8.GetString(buffer, 0, received.Count), Is.EqualTo("/p/https://example.com/chat?room=1 hello"));
        });
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
    }

    [TestCase(256, 200, TestName = "TableSizeUpdate_IsAccepted_UpToTheSizeKestrelAdvertises")]
    [TestCase(257, 0, TestName = "TableSizeUpdate_EndsWithGoAwayCompressionError_AboveTheSizeKestrelAdvertises")]
    public async Task TableSizeUpdate(int size, int expectedStatus)
    {
        await using var app = await TestApp.StartAsync(extraListeners: (o, _) => o.Limits.Http2.HeaderTableSize = 256);
        var (connection, ssl) = await OpenH2TunnelAsync(app);
        await using (connection)
        {
            var update = new byte[HpackInteger.MaxLength];
            var updateLength = HpackInteger.Write(update, size, 5, 0x20);
            var block = Http2RewriterTests.Block((":method", "GET"), (":scheme", "https"), (":path", "/t"), (":authority", "example.com"));
            await ssl.WriteAsync(ClientStart(Http2RewriterTests.Frame(0x1, 0x5, 1, [.. update.AsSpan(0, updateLength), .. block])));
            var frames = await ReadUntilClosedOrAnsweredAsync(ssl);
            var settings = frames.First(f => f.Type == 0x4 && (f.Flags & 0x1) == 0).Payload;
            var advertised = Enumerable.Range(0, settings.Length / 6)
                .Where(i => BinaryPrimitives.ReadUInt16BigEndian(settings.AsSpan(i * 6)) == 0x1)
                .Select(i => BinaryPrimitives.ReadInt32BigEndian(settings.AsSpan(i * 6 + 2))).Single();
            Assert.That(advertised, Is.EqualTo(256), "Kestrel advertises its Limits.Http2.HeaderTableSize");
            var answered = frames.Any(f => f.Type == 0x1 && f.Stream == 1);
            var goAway = frames.LastOrDefault(f => f.Type == Http2Frame.TypeGoAway);
            if (expectedStatus == 200)
            {
                Assert.That(answered, Is.True);
            }
            else
            {
                Assert.That(answered, Is.False);
                Assert.That(BinaryPrimitives.ReadInt32BigEndian(goAway.Payload.AsSpan(4)), Is.EqualTo((int)Http2ErrorCode.CompressionError));
            }
        }
    }

    /// <summary>Reads frames until stream 1 ends or the server closes.</summary>
    private static async Task<List<(byte Type, byte Flags, int Stream, byte[] Payload)>> ReadUntilClosedOrAnsweredAsync(Stream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var frames = new List<(byte, byte, int, byte[])>();
        for (var i = 0; i < 10_000; i++)
        {
            if (await ReadFrameAsync(stream, timeout.Token) is not { } frame)
            {
                return frames;
            }

            frames.Add(frame);
            if (frame.Stream == 1 && (frame.Flags & 0x1) != 0 && frame.Type is 0x0 or 0x1)
            {
                return frames;
            }
        }

        throw new InvalidOperationException("too many frames");
    }
}
