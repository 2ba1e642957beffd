using System.Net;
using ProxTunnel.Resolvers;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Tunnel;

public sealed class ProxyAuthTests
{
    [Test]
    public async Task NoCredentials_Gets407WithBasicChallenge()
    {
        await using var app = await TestApp.StartAsync(t => t.PrefixResolver = new ProxyAuthPrefixResolver("archive"));
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
        var response = await c.ReadResponseAsync();
        Assert.That(response.Status, Is.EqualTo(407));
        Assert.That(response.Headers["Proxy-Authenticate"], Is.EqualTo("Basic realm=\"archive\""));
        Assert.That(app.SeenTargets, Is.Empty);
    }

    [Test]
    public async Task Connect_NoCredentials_Gets407()
    {
        await using var app = await TestApp.StartAsync(t => t.PrefixResolver = new ProxyAuthPrefixResolver("archive"));
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        var response = await c.ConnectAsync("example.com:443");
        Assert.That(response.Status, Is.EqualTo(407));
        Assert.That(response.Headers["Proxy-Authenticate"], Is.EqualTo("Basic realm=\"archive\""));
    }

    [TestCase("http")]
    [TestCase("https")]
    public async Task UserName_BecomesPrefix_AndCredentialsNeverReachApp(string scheme)
    {
        await using var app = await TestApp.StartAsync(t =>
        {
            t.Prefix = "/ignored/";
            t.PrefixResolver = new ProxyAuthPrefixResolver("archive");
        });
        using var client = app.CreateClient(new NetworkCredential("alice", "secret"));
        var json = TestApp.ParseJson(await client.GetStringAsync($"{scheme}://example.com/page"));
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo($"/alice/{scheme}://example.com/page"));
            Assert.That(json["headers"]!.AsObject().ContainsKey("Proxy-Authorization"), Is.False);
        });
        if (scheme == "https")
        {
            Assert.That((string?)json["tunnel"]!["proxyAuthorization"], Does.StartWith("Basic "));
        }
    }
}
