using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ProxTunnel.Tests.Gateway;

/// <summary><c>--upstream URL</c>: the gateway forwards rewritten requests to a Kestrel backend the test starts.</summary>
[NonParallelizable]
public sealed class GatewayUpstreamTests
{
    private WebApplication _backend = null!;
    private GatewayProcess _gateway = null!;
    private string _root = null!;
    private int _backendPort;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(o => o.Listen(IPAddress.Loopback, 0));
        _backend = builder.Build();
        _backend.UseWebSockets();
        _backend.Run(BackendAsync);
        await _backend.StartAsync();
        var address = _backend.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _backendPort = new Uri(address).Port;
        _gateway = await GatewayProcess.StartAsync("--upstream", $"http://127.0.0.1:{_backendPort}", "--proxy-alias", "app.local");
        _root = await Curl.DownloadRootAsync(_gateway);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _gateway.DisposeAsync();
        await _backend.StopAsync();
        await _backend.DisposeAsync();
    }

    [Test]
    public void Banner_WithUpstream_NamesTheBackend()
        => Assert.That(_gateway.StdOut, Does.Contain($"forwarding to http://127.0.0.1:{_backendPort}/"));

    [TestCase("http://Example.com/a/b?x=1&y=%2F%20z", "/prefix/http://example.com/a/b?x=1&y=%2F%20z", "Example.com", "http")]
    [TestCase("https://example.com:8443/p/../q/%7E?k=v", "/prefix/https://example.com:8443/q/%7E?k=v", "example.com:8443", "https")]
    public async Task Forwarded_BackendSeesRewrittenTargetOriginalHostAndForwardedHeaders(string url, string target, string host, string proto)
    {
        var json = await Curl.GetJsonAsync("--path-as-is", "--proxy", _gateway.ProxyUrl, "--cacert", _root, url);
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo(target));
            Assert.That((string?)json["host"], Is.EqualTo(host));
            Assert.That((string?)json["xForwardedFor"], Is.EqualTo("127.0.0.1"));
            Assert.That((string?)json["xForwardedProto"], Is.EqualTo(proto));
            Assert.That((string?)json["xForwardedHost"], Is.EqualTo(host));
        });
    }

    [TestCase("http")]
    [TestCase("https")]
    public async Task ProxyAlias_WithUpstream_BackendSeesUnprefixedTargetAndAliasHost(string scheme)
    {
        var json = await Curl.GetJsonAsync("--proxy", _gateway.ProxyUrl, "--cacert", _root, $"{scheme}://app.local/api?x=1");
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo("/api?x=1"));
            Assert.That((string?)json["host"], Is.EqualTo("app.local"));
            Assert.That((string?)json["xForwardedProto"], Is.EqualTo(scheme));
        });
    }

    [Test]
    public async Task Post_Forwarded_BodyArrivesIntact()
    {
        var json = await Curl.GetJsonAsync("--proxy", _gateway.ProxyUrl, "--data-binary", "hello upstream", "http://example.com/post");
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["method"], Is.EqualTo("POST"));
            Assert.That((string?)json["body"], Is.EqualTo("hello upstream"));
        });
    }

    [Test]
    public async Task LandingPage_WithUpstream_NotForwarded()
    {
        var page = await Curl.GetAsync("--proxy", _gateway.ProxyUrl, "http://proxtunnel/");
        Assert.That(page, Does.Not.Contain("xForwardedFor"));
        Assert.That(page, Does.Contain("/download/pem"));
    }

    [TestCase("ws://example.com/socket?id=7", "/prefix/http://example.com/socket?id=7")]
    [TestCase("wss://example.com/socket", "/prefix/https://example.com/socket")]
    public async Task WebSocket_ThroughUpstream_BackendEchoes(string url, string target)
    {
        using var root = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(_root);
        using var socket = new ClientWebSocket();
        socket.Options.Proxy = new WebProxy(_gateway.ProxyUrl);
        socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, errors) => GatewayWebSocketTests.Trusted(root, certificate, errors);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new Uri(url), cts.Token);
        await socket.SendAsync(Encoding.UTF8.GetBytes("via upstream"), WebSocketMessageType.Text, true, cts.Token);
        var buffer = new byte[4096];
        var received = await socket.ReceiveAsync(buffer, cts.Token);
        Assert.That(Encoding.UTF8.GetString(buffer, 0, received.Count), Is.EqualTo($"backend {target} via upstream"));
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
    }

    private static async Task BackendAsync(HttpContext context)
    {
        var target = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
        if (context.WebSockets.IsWebSocketRequest)
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[4096];
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, context.RequestAborted);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, context.RequestAborted);
                    return;
                }

                var reply = Encoding.UTF8.GetBytes($"backend {target} {Encoding.UTF8.GetString(buffer, 0, received.Count)}");
                await socket.SendAsync(reply, WebSocketMessageType.Text, true, context.RequestAborted);
            }
        }

        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var json = new JsonObject
        {
            ["method"] = context.Request.Method,
            ["target"] = target,
            ["host"] = context.Request.Headers.Host.ToString(),
            ["xForwardedFor"] = context.Request.Headers["X-Forwarded-For"].ToString(),
            ["xForwardedProto"] = context.Request.Headers["X-Forwarded-Proto"].ToString(),
            ["xForwardedHost"] = context.Request.Headers["X-Forwarded-Host"].ToString(),
            ["body"] = body,
        };
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json.ToJsonString(), context.RequestAborted);
    }
}
