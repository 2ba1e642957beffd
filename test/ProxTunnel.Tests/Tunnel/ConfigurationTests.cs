using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Tunnel;

public sealed class ConfigurationTests
{
    [Test]
    public async Task AddProxyTunnel_BindsConfigurationSection()
    {
        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-tests", Guid.NewGuid().ToString("N"));
        var caPath = Path.Combine(directory, "from-config.pem");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ProxyTunnel:Prefix"] = "/cfg/",
            ["ProxyTunnel:ProxyHost"] = "cfg-proxy",
            ["ProxyTunnel:ProxyHosts:0"] = "cfg-alias",
            ["ProxyTunnel:CertificateAuthority:RootCertificatePath"] = caPath,
        });
        builder.Services.AddProxyTunnel();
        builder.WebHost.ConfigureKestrel(o => o.Listen(IPAddress.Loopback, 0, l => l.UseProxyTunnel()));
        await using var app = builder.Build();
        app.Run(TestApp.EchoAsync);
        await app.StartAsync();
        var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        using var client = new HttpClient(new HttpClientHandler { Proxy = new WebProxy($"http://127.0.0.1:{port}") });
        var proxied = TestApp.ParseJson(await client.GetStringAsync("http://example.com/x"));
        var alias = TestApp.ParseJson(await client.GetStringAsync("http://cfg-alias/y"));
        var pem = await client.GetStringAsync("http://cfg-proxy/download/pem");
        await app.StopAsync();
        Assert.Multiple(() =>
        {
            Assert.That((string?)proxied["target"], Is.EqualTo("/cfg/http://example.com/x"));
            Assert.That((string?)alias["target"], Is.EqualTo("/y"));
            Assert.That(pem, Does.StartWith("-----BEGIN CERTIFICATE-----"));
            Assert.That(File.Exists(caPath), Is.True);
            Assert.That(File.GetUnixFileMode(caPath), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
            Assert.That(File.GetUnixFileMode(directory), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        });
        Directory.Delete(directory, true);
    }

    [Test]
    public async Task ListenerWithoutHttp1_RefusedAtStartWithClearMessage()
    {
        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-tests", Guid.NewGuid().ToString("N"));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(o => o.Listen(IPAddress.Loopback, 0, l =>
        {
            l.UseProxyTunnel(t => t.CertificateAuthority.RootCertificatePath = Path.Combine(directory, "ca.pem"));
            l.Protocols = HttpProtocols.Http2;
        }));
        await using var app = builder.Build();
        app.Run(TestApp.EchoAsync);
        var error = Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync());
        Assert.That(error!.Message, Does.Contain("HTTP/1.1").And.Contain("UseProxyTunnel"));
    }

    [Test]
    public async Task PlainConnection_StaysHttp11_OnADefaultListener()
    {
        await using var app = await TestApp.StartAsync();
        using var client = new HttpClient(new SocketsHttpHandler()) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrLower };
        using var response = await client.GetAsync(new Uri(app.ProxyUri, "/plain"));
        Assert.That(response.Version, Is.EqualTo(HttpVersion.Version11));
    }

    [Test]
    public async Task ExpectContinue_BodyArrivesAfterInterimResponse()
    {
        await using var app = await TestApp.StartAsync();
        using var client = app.CreateClient();
        var payload = new byte[50_000];
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://example.com/continue") { Content = new ByteArrayContent(payload) };
        request.Headers.ExpectContinue = true;
        using var response = await client.SendAsync(request);
        var json = TestApp.ParseJson(await response.Content.ReadAsStringAsync());
        Assert.That((long?)json["bodyLength"], Is.EqualTo(payload.Length));
    }
}
