using System.Net;
using System.Net.Security;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Http2;

/// <summary>Where ALPN offers h2 (SPEC §4), and that no route lets the HTTP/2 preface reach Kestrel as a head.</summary>
public sealed class Http2ProtocolSelectionTests
{
    private static readonly List<SslApplicationProtocol> H2AndHttp11 = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11];
    private const string Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    private static async Task<SslApplicationProtocol> NegotiateInTunnelAsync(TestApp app, string host, int? port = null)
    {
        await using var connection = await RawHttpConnection.OpenAsync(port ?? app.Port);
        Assert.That((await connection.ConnectAsync($"{host}:443")).Status, Is.EqualTo(200));
        var ssl = await connection.StartTlsAsync(app, host, H2AndHttp11);
        return ssl.NegotiatedApplicationProtocol;
    }

    [Test]
    public async Task Alpn_ChoosesH2_InATlsTunnel()
    {
        await using var app = await TestApp.StartAsync();
        Assert.That(await NegotiateInTunnelAsync(app, "example.com"), Is.EqualTo(SslApplicationProtocol.Http2));
    }

    [TestCase("proxtunnel")]
    [TestCase("alias.example")]
    public async Task Alpn_OffersOnlyHttp11_InATunnelToAProxyHost(string host)
    {
        await using var app = await TestApp.StartAsync(t => t.ProxyHosts.Add("alias.example"));
        Assert.That(await NegotiateInTunnelAsync(app, host), Is.EqualTo(SslApplicationProtocol.Http11));
    }

    [Test]
    public async Task Alpn_OffersOnlyHttp11_WhenTheHttp2OptionIsOff()
    {
        await using var app = await TestApp.StartAsync(t => t.Http2 = false);
        Assert.That(await NegotiateInTunnelAsync(app, "example.com"), Is.EqualTo(SslApplicationProtocol.Http11));
    }

    [Test]
    public async Task Alpn_OffersOnlyHttp11_WhenConfigurationTurnsHttp2Off()
    {
        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-tests", Guid.NewGuid().ToString("N"));
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ProxyTunnel:Http2"] = "false",
            ["ProxyTunnel:CertificateAuthority:RootCertificatePath"] = Path.Combine(directory, "ca.pem"),
        });
        builder.Services.AddProxyTunnel();
        builder.WebHost.ConfigureKestrel(o => o.Listen(IPAddress.Loopback, 0, l => l.UseProxyTunnel()));
        await using var app = builder.Build();
        await app.StartAsync();
        try
        {
            var port = new Uri(app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First()).Port;
            using var client = new System.Net.Sockets.TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            var stream = client.GetStream();
            await stream.WriteAsync("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"u8.ToArray());
            var head = new byte[39];
            await stream.ReadExactlyAsync(head);
            await using var ssl = new SslStream(stream);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "example.com",
                ApplicationProtocols = H2AndHttp11,
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            });
            Assert.That(ssl.NegotiatedApplicationProtocol, Is.EqualTo(SslApplicationProtocol.Http11));
        }
        finally
        {
            await app.StopAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task Alpn_OffersOnlyHttp11_WhenTheListenerIsHttp1Only()
    {
        await using var app = await TestApp.StartAsync(extraListeners: (o, authority) => o.Listen(IPAddress.Loopback, 0, l =>
        {
            l.Protocols = HttpProtocols.Http1;
            l.UseProxyTunnel(t => t.CertificateAuthorityInstance = authority);
        }));
        Assert.That(await NegotiateInTunnelAsync(app, "example.com", app.SecondUri!.Port), Is.EqualTo(SslApplicationProtocol.Http11));
    }

    [Test]
    public async Task Alpn_OffersOnlyHttp11_ForTlsToTheProxyItself()
    {
        await using var app = await TestApp.StartAsync();
        await using var connection = await RawHttpConnection.OpenAsync(app.Port);
        var ssl = await connection.StartTlsAsync(app, "127.0.0.1", H2AndHttp11);
        Assert.That(ssl.NegotiatedApplicationProtocol, Is.EqualTo(SslApplicationProtocol.Http11));
    }

    [Test]
    public async Task Alpn_OffersOnlyHttp11_ForTlsToTheProxyItself_WhenUseHttpsComesFirst_AndTunnelsInsideStillGetH2()
    {
        await using var app = await TestApp.StartAsync(httpsBeforeTunnel: true);
        await using var connection = await RawHttpConnection.OpenAsync(app.Port);
        var proxyTls = await connection.StartTlsAsync(app, "127.0.0.1", H2AndHttp11);
        Assert.That(proxyTls.NegotiatedApplicationProtocol, Is.EqualTo(SslApplicationProtocol.Http11));
        Assert.That((await connection.ConnectAsync("example.com:443")).Status, Is.EqualTo(200));
        var tunnelTls = await connection.StartTlsAsync(app, "example.com", H2AndHttp11);
        Assert.That(tunnelTls.NegotiatedApplicationProtocol, Is.EqualTo(SslApplicationProtocol.Http2));
    }

    [Test]
    public void UseProxyTunnel_KeepsTheDefaultHttp1AndHttp2Protocols()
    {
        var options = new Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions
        {
            ApplicationServices = new ServiceCollection().BuildServiceProvider(),
        };
        ListenOptions? captured = null;
        options.Listen(IPAddress.Loopback, 0, l =>
        {
            l.UseProxyTunnel();
            captured = l;
        });
        Assert.That(captured!.Protocols, Is.EqualTo(HttpProtocols.Http1AndHttp2));
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task Http11Tunnel_Works_WithAlpnHttp11OrNoAlpn_OnAnHttp2Listener(bool offerAlpn)
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var connection = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await connection.ConnectAsync("example.com:443")).Status, Is.EqualTo(200));
        await connection.StartTlsAsync(app, "example.com", offerAlpn ? [SslApplicationProtocol.Http11] : null);
        for (var i = 0; i < 2; i++)
        {
            await connection.SendAsync($"GET /k{i} HTTP/1.1\r\nHost: example.com\r\n\r\n");
            var response = await connection.ReadResponseAsync();
            Assert.That((response.Status, (string?)response.Json["target"]), Is.EqualTo((200, $"/p/https://example.com/k{i}")));
        }
    }

    public enum Route
    {
        PlainProxy,
        PlainProxyAfterARequest,
        PlainTunnel,
        TlsToTheProxy,
        TlsTunnelWithHttp11,
        TlsTunnelWithoutAlpn,
    }

    [TestCase(Route.PlainProxy)]
    [TestCase(Route.PlainProxyAfterARequest)]
    [TestCase(Route.PlainTunnel)]
    [TestCase(Route.TlsToTheProxy)]
    [TestCase(Route.TlsTunnelWithHttp11)]
    [TestCase(Route.TlsTunnelWithoutAlpn)]
    public async Task Http2Preface_IsRefusedWith400_OnEveryHttp11Route(Route route)
    {
        await using var app = await TestApp.StartAsync();
        await using var connection = await RawHttpConnection.OpenAsync(app.Port);
        switch (route)
        {
            case Route.PlainProxyAfterARequest:
                await connection.SendAsync("GET http://example.com/first HTTP/1.1\r\nHost: example.com\r\n\r\n");
                Assert.That((await connection.ReadResponseAsync()).Status, Is.EqualTo(200));
                break;
            case Route.PlainTunnel:
                Assert.That((await connection.ConnectAsync("example.com:80")).Status, Is.EqualTo(200));
                break;
            case Route.TlsToTheProxy:
                await connection.StartTlsAsync(app, "127.0.0.1", H2AndHttp11);
                break;
            case Route.TlsTunnelWithHttp11:
            case Route.TlsTunnelWithoutAlpn:
                Assert.That((await connection.ConnectAsync("example.com:443")).Status, Is.EqualTo(200));
                var ssl = await connection.StartTlsAsync(app, "example.com", route == Route.TlsTunnelWithHttp11 ? [SslApplicationProtocol.Http11] : null);
                Assert.That(ssl.NegotiatedApplicationProtocol, Is.Not.EqualTo(SslApplicationProtocol.Http2));
                break;
        }

        await connection.SendAsync(Preface);
        var response = await connection.ReadResponseAsync(expectBody: false);
        Assert.That(response.Status, Is.EqualTo(400));
        Assert.That(app.SeenTargets, Has.None.EqualTo("*"));
    }
}
