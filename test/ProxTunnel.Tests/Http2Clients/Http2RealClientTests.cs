using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using ProxTunnel.Tests.Gateway;

namespace ProxTunnel.Tests.Http2Clients;

/// <summary>
/// curl, HttpClient and ClientWebSocket speaking HTTP/2 inside a CONNECT+TLS tunnel. Each case also runs against the
/// direct UseHttps listener of the same app, which validates the client set-up independently of the tunnel.
/// </summary>
public sealed class Http2RealClientTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private Http2Host _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _host = await Http2Host.StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task CurlHttp2_NegotiatesH2AndAppSeesRewrittenTarget(bool throughTunnel)
    {
        string[] route = throughTunnel
            ? ["-x", _host.ProxyUri.ToString()]
            : ["--connect-to", $"{Http2Host.Host}:443:127.0.0.1:{_host.DirectPort}"];
        var result = await Curl.RunAsync([.. route, "--http2", "-i", "--cacert", _host.RootPemPath, $"https://{Http2Host.Host}/x?curl=1"]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var statusLine = result.StdOut[..result.StdOut.IndexOf('\n', StringComparison.Ordinal)].TrimEnd('\r', ' ');
        if (throughTunnel)
        {
            // curl prints the proxy's CONNECT answer first; the origin's response head follows the blank line.
            var origin = result.StdOut[(result.StdOut.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
            statusLine = origin[..origin.IndexOf('\n', StringComparison.Ordinal)].TrimEnd('\r', ' ');
        }

        var body = JsonNode.Parse(result.StdOut[result.StdOut.LastIndexOf("\r\n\r\n", StringComparison.Ordinal)..])!;
        Assert.Multiple(() =>
        {
            Assert.That(statusLine, Is.EqualTo("HTTP/2 200"));
            Assert.That((string?)body["target"], Is.EqualTo(Http2Host.ExpectedTarget(throughTunnel, "/x?curl=1")));
            Assert.That((string?)body["protocol"], Is.EqualTo("HTTP/2"));
        });
    }

    private HttpClient CreateHttp2Client(bool throughTunnel) => new(_host.CreateHandler(direct: !throughTunnel))
    {
        DefaultRequestVersion = HttpVersion.Version20,

        // OrLower so a tunnel that only offers http/1.1 fails on the version assertion, not in the handshake.
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        Timeout = Timeout,
    };

    [Test]
    public async Task CurlHttp2_WithProxyAuthResolver_EveryStreamGetsTheConnectUsersPrefix()
    {
        await using var host = await Http2Host.StartAsync(t => t.PrefixResolver = new Resolvers.ProxyAuthPrefixResolver());
        var result = await Curl.RunAsync("-x", host.ProxyUri.ToString(), "--proxy-user", "alice:secret", "--http2", "--cacert", host.RootPemPath,
            $"https://{Http2Host.Host}/first", "--next", "-x", host.ProxyUri.ToString(), "--proxy-user", "alice:secret", "--http2",
            "--cacert", host.RootPemPath, $"https://{Http2Host.Host}/second");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var records = host.Requests.ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(records.Select(r => r.Target), Is.EqualTo(new[] { "/alice/https://example.com/first", "/alice/https://example.com/second" }));
            Assert.That(records.Select(r => r.Protocol), Is.All.EqualTo("HTTP/2"));
            Assert.That(records.Select(r => r.ConnectionId).Distinct().Count(), Is.EqualTo(1), "both requests on one tunnel");
            Assert.That(records.SelectMany(r => r.Headers).Select(h => h.Key), Has.None.EqualTo("Proxy-Authorization"));
        });
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task HttpClientHttp2_NegotiatesH2AndAppSeesRewrittenTarget(bool throughTunnel)
    {
        using var client = CreateHttp2Client(throughTunnel);
        using var response = await client.GetAsync(new Uri($"https://{Http2Host.Host}/client/a?b=c%20d"));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Multiple(() =>
        {
            Assert.That(response.Version, Is.EqualTo(HttpVersion.Version20));
            Assert.That((string?)body["protocol"], Is.EqualTo("HTTP/2"));
            Assert.That((string?)body["target"], Is.EqualTo(Http2Host.ExpectedTarget(throughTunnel, "/client/a?b=c%20d")));
            Assert.That((bool?)body["isHttps"], Is.True);
        });
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task HttpClientHttp2_ManyConcurrentRequests_ShareOneConnectionAndAllAreRewritten(bool throughTunnel)
    {
        using var client = CreateHttp2Client(throughTunnel);
        var targets = await Task.WhenAll(Enumerable.Range(0, 64).Select(async i =>
        {
            using var content = new ByteArrayContent(new byte[i * 1000]);
            using var response = await client.PostAsync(new Uri($"https://{Http2Host.Host}/many/{i}"), content);
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            return ((string?)body["target"], (long?)body["bodyLength"], (string?)body["connection"]);
        }));
        Assert.Multiple(() =>
        {
            Assert.That(targets.Select(t => t.Item3).Distinct().Count(), Is.EqualTo(1), "connections the app saw");
            Assert.That(targets.Select(t => (t.Item1, t.Item2)), Is.EqualTo(Enumerable.Range(0, 64).Select(i => ((string?)Http2Host.ExpectedTarget(throughTunnel, $"/many/{i}"), (long?)(i * 1000)))));
        });
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task ClientWebSocketOverHttp2_ReachesAppWebSocketEndpoint(bool throughTunnel)
    {
        using var invoker = new HttpMessageInvoker(_host.CreateHandler(direct: !throughTunnel));
        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        using var cts = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(new Uri($"wss://{Http2Host.Host}/ws/chat?room=1"), invoker, cts.Token);
        await socket.SendAsync("hello over h2"u8.ToArray(), WebSocketMessageType.Text, true, cts.Token);
        var buffer = new byte[4096];
        var received = await socket.ReceiveAsync(buffer, cts.Token);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
        Assert.That(Encoding.UTF8.GetString(buffer, 0, received.Count),
            Is.EqualTo($"HTTP/2 {Http2Host.ExpectedTarget(throughTunnel, "/ws/chat?room=1")} hello over h2"));
    }
}
