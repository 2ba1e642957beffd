using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Tunnel;

public sealed class ProxyHostTests
{
    [TestCase("http")]
    [TestCase("https")]
    public async Task Downloads_CarryCertificateOnlyAndNeverReachTheApp(string scheme)
    {
        await using var app = await TestApp.StartAsync();
        using var client = app.CreateClient();
        var pemResponse = await client.GetAsync($"{scheme}://proxtunnel/download/pem");
        var pem = await pemResponse.Content.ReadAsStringAsync();
        var p12 = await client.GetByteArrayAsync($"{scheme}://proxtunnel/download/p12");
        var cer = await client.GetByteArrayAsync($"{scheme}://proxtunnel/download/cer");
        var page = await client.GetStringAsync($"{scheme}://ProxTunnel/");
        Assert.Multiple(() =>
        {
            Assert.That(pemResponse.Content.Headers.ContentType!.MediaType, Is.EqualTo("application/x-x509-ca-cert"));
            Assert.That(pem, Does.StartWith("-----BEGIN CERTIFICATE-----"));
            Assert.That(pem, Does.Not.Contain("PRIVATE KEY"));
            var fromP12 = X509CertificateLoader.LoadPkcs12Collection(p12, "");
            Assert.That(fromP12, Has.Count.EqualTo(1));
            Assert.That(fromP12[0].HasPrivateKey, Is.False);
            Assert.That(X509CertificateLoader.LoadCertificate(cer).Thumbprint, Is.EqualTo(app.Authority.RootCertificate.Thumbprint));
            Assert.That(page, Does.Contain(app.Authority.RootSha256Fingerprint));
            Assert.That(page, Does.Contain("href=\"/download/pem\""));
            Assert.That(page, Does.Contain("https://proxtunnel/"));
            Assert.That(app.SeenTargets, Is.Empty);
        });
    }

    [Test]
    public async Task ProxyHost_OtherPaths_ReachAppUnprefixed()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        using var client = app.CreateClient();
        var json = TestApp.ParseJson(await client.GetStringAsync("http://proxtunnel/status?x=1"));
        var https = TestApp.ParseJson(await client.GetStringAsync("https://proxtunnel/status"));
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo("/status?x=1"));
            Assert.That((string?)json["host"], Is.EqualTo("proxtunnel"));
            Assert.That((string?)https["target"], Is.EqualTo("/status"));
            Assert.That((bool?)https["isHttps"], Is.True);
        });
    }

    [Test]
    public async Task ExtraProxyHost_RoutedWithRequireHost()
    {
        await using var app = await TestApp.StartAsync(
            t =>
            {
                t.Prefix = "/p/";
                t.ProxyHosts.Add("proxy-alias");
            },
            web => web.MapGet("/hello", () => "alias says hi").RequireHost("proxy-alias"));
        using var client = app.CreateClient();
        Assert.Multiple(async () =>
        {
            Assert.That(await client.GetStringAsync("http://proxy-alias/hello"), Is.EqualTo("alias says hi"));
            Assert.That(await client.GetStringAsync("https://PROXY-ALIAS/hello"), Is.EqualTo("alias says hi"));
            Assert.That((string?)TestApp.ParseJson(await client.GetStringAsync("http://other.example/hello"))["target"], Is.EqualTo("/p/http://other.example/hello"));
        });
    }

    [Test]
    public async Task CustomProxyHost_ReplacesDefault()
    {
        await using var app = await TestApp.StartAsync(t => t.ProxyHost = "my-proxy");
        using var client = app.CreateClient();
        Assert.That(await client.GetStringAsync("http://my-proxy/download/pem"), Does.StartWith("-----BEGIN CERTIFICATE-----"));
        Assert.That((string?)TestApp.ParseJson(await client.GetStringAsync("http://proxtunnel/download/pem"))["target"], Is.EqualTo("/http://proxtunnel/download/pem"));
    }

    [Test]
    public async Task DownloadDisabled_ProxyHostPathsGoToApp()
    {
        await using var app = await TestApp.StartAsync(t => t.EnableCertificateDownload = false);
        using var client = app.CreateClient();
        Assert.That((string?)TestApp.ParseJson(await client.GetStringAsync("http://proxtunnel/download/pem"))["target"], Is.EqualTo("/download/pem"));
    }

    [Test]
    public async Task ProxyHostPage_KeepAlive_NextRequestOnSameConnectionWorks()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync("GET http://proxtunnel/download/pem HTTP/1.1\r\nHost: proxtunnel\r\n\r\nGET http://example.com/next HTTP/1.1\r\nHost: example.com\r\n\r\n");
        var pem = await c.ReadResponseAsync();
        var next = await c.ReadResponseAsync();
        Assert.That(Encoding.ASCII.GetString(pem.Body), Does.StartWith("-----BEGIN CERTIFICATE-----"));
        Assert.That((string?)next.Json["target"], Is.EqualTo("/p/http://example.com/next"));
    }
}
