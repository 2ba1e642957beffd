using System.Net;
using System.Net.WebSockets;
using System.Text;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Tunnel;

public sealed class WebSocketTests
{
    [TestCase("ws://example.com/chat?room=1", "/p/http://example.com/chat?room=1")]
    [TestCase("wss://example.com/chat", "/p/https://example.com/chat")]
    [TestCase("wss://example.com:9443/chat", "/p/https://example.com:9443/chat")]
    public async Task ClientWebSocket_ThroughProxy_EchoesWithPrefixedTarget(string url, string expectedTarget)
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        using var socket = new ClientWebSocket();
        socket.Options.Proxy = new WebProxy(app.ProxyUri);
        socket.Options.RemoteCertificateValidationCallback = app.ValidateWithRoot;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.ConnectAsync(new Uri(url), cts.Token);
        var buffer = new byte[4096];
        for (var i = 0; i < 3; i++)
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes($"hello {i}"), WebSocketMessageType.Text, true, cts.Token);
            var received = await socket.ReceiveAsync(buffer, cts.Token);
            Assert.That(Encoding.UTF8.GetString(buffer, 0, received.Count), Is.EqualTo($"{expectedTarget} hello {i}"));
        }

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
    }

    [Test]
    public async Task AcceptedUpgrade_FramesLookingLikeRequestsPassThroughUntouched()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        using var socket = new ClientWebSocket();
        socket.Options.Proxy = new WebProxy(app.ProxyUri);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.ConnectAsync(new Uri("ws://example.com/raw"), cts.Token);
        var message = "GET /not-a-request HTTP/1.1\r\nHost: x\r\n\r\n";
        await socket.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, true, cts.Token);
        var buffer = new byte[4096];
        var received = await socket.ReceiveAsync(buffer, cts.Token);
        Assert.That(Encoding.UTF8.GetString(buffer, 0, received.Count), Is.EqualTo("/p/http://example.com/raw " + message));
        Assert.That(app.SeenTargets, Is.EqualTo(new[] { "/p/http://example.com/raw" }));
    }
}
