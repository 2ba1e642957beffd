using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Tunnel;

/// <summary>Hostile framing on proxied connections: refused with 400 and a close, and nothing reaches the app unrewritten.</summary>
public sealed class SmugglingTests
{
    private const string Smuggled = "GET /smuggled HTTP/1.1\r\nHost: example.com\r\n\r\n";

    private static readonly string[] HostileHeads =
    [
        "POST /a HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: identity\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "POST /a HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5, 5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: example.com\r\nContent-Length: +5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0x5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: example.com\r\nContent-Length : 5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: example.com\r\nX-Folded: a\r\n b\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: example.com\nX-Bare-LF: 1\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: example.com\r\nX-Bare-CR: 1\r2\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: example.com\r\nX-Nul: a\0b\r\n\r\n",
        "GET /a HTTP/1.1\r\n Host: example.com\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: example.com\r\nHost: other.example\r\n\r\n",
        "GET  /a HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "GET /a HTTP/1.1 \r\nHost: example.com\r\n\r\n",
        "GET /a\tb HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: example.com\r\n: empty-name\r\n\r\n",
        "G@T /a HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "GET /a HTTP/1.0\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 4\r\n\r\nGET ",
    ];

    private static readonly string[] HostileChunkedBodies =
    [
        "5 \r\nhello\r\n0\r\n\r\n",
        "5\nhello\r\n0\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "5;a\nb\r\nhello\r\n0\r\n\r\n",
        "5;a\rb\r\nhello\r\n0\r\n\r\n",
        "5\r\nhelloXX0\r\n\r\n",
        "fffffffffffffffff\r\n",
        "80000000\r\n",
        "-1\r\n",
        "\r\n",
        "5\r\nhello\r\n0\r\nBad Trailer\r\n\r\n",
        "5\r\nhello\r\n0\r\nX: a\nY: b\r\n\r\n",
        "5\r\nhello\r\n0\r\n folded: x\r\n\r\n",
    ];

    public static IEnumerable<TestCaseData> Heads() => HostileHeads.Select((h, i) => new TestCaseData(i, h).SetName($"HostileHead_{i:00}_RefusedAndNothingUnrewritten"));

    public static IEnumerable<TestCaseData> Bodies() => HostileChunkedBodies.Select((b, i) => new TestCaseData(i, b).SetName($"HostileChunkedBody_{i:00}_NothingUnrewritten"));

    [TestCaseSource(nameof(Heads))]
    public async Task HostileHeadInTunnel(int index, string head)
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.ConnectAsync("example.com:80");
        await c.SendAsync(head + Smuggled);
        var response = await c.ReadResponseAsync();
        Assert.That(response.Status, Is.EqualTo(400), $"case {index}");
        Assert.That(await c.IsClosedByServerAsync(), Is.True, "the connection closes after a refusal");
        Assert.That(app.SeenTargets, Has.All.StartWith("/p/http://example.com/"), "nothing reaches the app unrewritten");
        Assert.That(app.SeenTargets, Has.None.Contains("smuggled"));
    }

    [TestCaseSource(nameof(Heads))]
    public async Task HostileHeadAbsoluteForm(int index, string head)
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        var absolute = head.Replace(" /a ", " http://example.com/a ", StringComparison.Ordinal).Replace("  /a ", "  http://example.com/a ", StringComparison.Ordinal);
        await c.SendAsync(absolute + Smuggled.Replace(" /smuggled", " http://example.com/smuggled", StringComparison.Ordinal));
        var response = await c.ReadResponseAsync();
        Assert.That(response.Status, Is.EqualTo(400), $"case {index}");
        Assert.That(app.SeenTargets, Has.None.Contains("smuggled"));
    }

    [TestCaseSource(nameof(Bodies))]
    public async Task HostileChunkedBodyInTunnel(int index, string body)
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.ConnectAsync("example.com:80");
        await c.SendAsync("POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n" + body + Smuggled);
        var response = await c.ReadResponseAsync();
        Assert.That(response.Status, Is.EqualTo(400), $"case {index}: a broken chunked body gets 400 (SPEC §3.7)");
        Assert.That(await c.IsClosedByServerAsync(), Is.True);
        Assert.That(app.SeenTargets, Has.All.StartWith("/p/http://example.com/"));
        Assert.That(app.SeenTargets, Has.None.Contains("smuggled"));
    }

    [Test]
    public async Task BodyContainingRequestLine_IsBodyNotRequest()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.ConnectAsync("example.com:80");
        var inner = Smuggled;
        await c.SendAsync($"POST /a HTTP/1.1\r\nHost: example.com\r\nContent-Length: {inner.Length}\r\n\r\n{inner}" +
                          $"POST /b HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n{inner.Length:x}\r\n{inner}\r\n0\r\n\r\n" +
                          "GET /c HTTP/1.1\r\nHost: example.com\r\n\r\n");
        var a = (await c.ReadResponseAsync()).Json;
        var b = (await c.ReadResponseAsync()).Json;
        var last = (await c.ReadResponseAsync()).Json;
        Assert.Multiple(() =>
        {
            Assert.That((long?)a["bodyLength"], Is.EqualTo(inner.Length));
            Assert.That((long?)b["bodyLength"], Is.EqualTo(inner.Length));
            Assert.That((string?)last["target"], Is.EqualTo("/p/http://example.com/c"));
            Assert.That(app.SeenTargets, Is.EqualTo(new[] { "/p/http://example.com/a", "/p/http://example.com/b", "/p/http://example.com/c" }));
        });
    }

    [Test]
    public async Task DeclinedUpgrade_LaterBytesStillRewrittenOrDropped()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.ConnectAsync("example.com:80");
        // The echo app declines upgrades that are not WebSocket requests (no Sec-WebSocket-Key).
        await c.SendAsync("GET /up HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n" + Smuggled);
        var first = await c.ReadResponseAsync();
        Assert.That(first.Status, Is.EqualTo(200));
        var second = await c.ReadResponseAsync();
        Assert.That(second.Status, Is.EqualTo(200), "the bytes after a declined upgrade are the next request, rewritten");
        Assert.That((string?)second.Json["target"], Is.EqualTo("/p/http://example.com/smuggled"));
        Assert.That(app.SeenTargets, Has.All.StartWith("/p/http://example.com/"));
        Assert.That(app.SeenTargets, Has.None.EqualTo("/smuggled"));
    }

    [Test]
    public async Task RefusalAfterPipelinedRequest_EarlierResponseStillDelivered()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        for (var round = 0; round < 20; round++)
        {
            await using var c = await RawHttpConnection.OpenAsync(app.Port);
            await c.ConnectAsync("example.com:80");
            await c.SendAsync("GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n" +
                              "GET /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx" + Smuggled);
            var first = await c.ReadResponseAsync();
            var second = await c.ReadResponseAsync();
            Assert.That((string?)first.Json["target"], Is.EqualTo("/p/http://example.com/a"), $"round {round}");
            Assert.That(second.Status, Is.EqualTo(400), $"round {round}");
        }

        Assert.That(app.SeenTargets, Has.None.Contains("smuggled"));
    }

    [Test]
    public async Task ClientClosesMidHead_ServerKeepsServing()
    {
        await using var app = await TestApp.StartAsync();
        await using (var c = await RawHttpConnection.OpenAsync(app.Port))
        {
            await c.SendAsync("GET http://example.com/ HTTP/1.1\r\nHost: exa");
        }

        using var client = app.CreateClient();
        Assert.That(await client.GetStringAsync("http://example.com/still"), Does.Contain("/http://example.com/still"));
    }
}
