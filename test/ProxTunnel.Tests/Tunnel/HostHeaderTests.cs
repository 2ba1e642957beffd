using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Tunnel;

/// <summary>SPEC §3.1 and §3.4: the Host header the app sees matches the URL it acts on.</summary>
public sealed class HostHeaderTests
{
    [TestCase("GET http://example.com:8080/x HTTP/1.1\r\nHost: other.example\r\n\r\n", "example.com:8080")]
    [TestCase("GET http://Example.COM/x HTTP/1.1\r\nHost: example.com:80\r\n\r\n", "example.com")]
    [TestCase("GET http://Example.com/x HTTP/1.1\r\nHost: EXAMPLE.com\r\n\r\n", "EXAMPLE.com")]
    [TestCase("GET https://example.com:443/x HTTP/1.1\r\nHost: evil.example\r\n\r\n", "example.com")]
    [TestCase("GET http://example.com/x HTTP/1.1\r\nX-Before: 1\r\n\r\n", "example.com")]
    [TestCase("GET http://example.com/x HTTP/1.0\r\n\r\n", "example.com")]
    [TestCase("GET http://[2001:DB8::1]:8443/x HTTP/1.1\r\nHost: [[2001:db8::1]]:8443\r\n\r\n", "[2001:db8::1]:8443")]
    public async Task AbsoluteForm_AppSeesTheTargetsAuthority(string request, string expectedHost)
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync(request);
        var json = (await c.ReadResponseAsync()).Json;
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["host"], Is.EqualTo(expectedHost));
            Assert.That((string?)json["headers"]!["X-Before"], Is.EqualTo(request.Contains("X-Before", StringComparison.Ordinal) ? "1" : null));
        });
    }

    [Test]
    public async Task AbsoluteForm_ThroughHttpClientAndResolver_AppSeesTheTargetsAuthority()
    {
        await using var app = await TestApp.StartAsync(t => t.PrefixResolver = new ProxTunnel.Resolvers.ProxyAuthPrefixResolver());
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        var credentials = Convert.ToBase64String("ann:x"u8);
        await c.SendAsync($"GET http://site.example:81/a HTTP/1.1\r\nHost: elsewhere\r\nProxy-Authorization: Basic {credentials}\r\n\r\n");
        var json = (await c.ReadResponseAsync()).Json;
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo("/ann/http://site.example:81/a"));
            Assert.That((string?)json["host"], Is.EqualTo("site.example:81"));
        });
    }

    [TestCase("Other.Example:1234", "Other.Example:1234")]
    [TestCase("site.example", "site.example")]
    [TestCase("", "")]
    [TestCase("[[2001:db8::1]]:8443", "site.example:8443")]
    [TestCase("site.example:", "site.example:8443")]
    [TestCase("site example", "site.example:8443")]
    [TestCase("a@b", "site.example:8443")]
    public async Task TlsTunnel_ClientHostKeptUnlessKestrelWouldRefuseIt(string clientHost, string expectedHost)
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await c.ConnectAsync("site.example:8443")).Status, Is.EqualTo(200));
        await c.StartTlsAsync(app, "site.example");
        await c.SendAsync($"GET /x HTTP/1.1\r\nHost: {clientHost}\r\n\r\n");
        var response = await c.ReadResponseAsync();
        Assert.That(response.Status, Is.EqualTo(200));
        Assert.Multiple(() =>
        {
            Assert.That((string?)response.Json["target"], Is.EqualTo("/p/https://site.example:8443/x"));
            Assert.That((string?)response.Json["host"], Is.EqualTo(expectedHost));
        });
    }

    [Test]
    public async Task TlsTunnelToIpv6Literal_RequestsStyleDoubleBracketHost_ReachesAppWithTunnelAuthority()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await c.ConnectAsync("[2001:db8::1]:8443")).Status, Is.EqualTo(200));
        await c.StartTlsAsync(app, serverName: null);
        await c.SendAsync("GET /x HTTP/1.1\r\nHost: [[2001:db8::1]]:8443\r\nUser-Agent: python-requests/2.28.1\r\n\r\n");
        var response = await c.ReadResponseAsync();
        Assert.That(response.Status, Is.EqualTo(200));
        Assert.Multiple(() =>
        {
            Assert.That((string?)response.Json["target"], Is.EqualTo("/p/https://[2001:db8::1]:8443/x"));
            Assert.That((string?)response.Json["host"], Is.EqualTo("[2001:db8::1]:8443"));
        });
    }

    [TestCase("HTTP/1.1")]
    [TestCase("HTTP/1.0")]
    public async Task PlainTunnel_NoHost_AppSeesTunnelAuthority(string version)
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await c.ConnectAsync("site.example:80")).Status, Is.EqualTo(200));
        await c.SendAsync($"GET /x {version}\r\n\r\n");
        Assert.That((string?)(await c.ReadResponseAsync()).Json["host"], Is.EqualTo("site.example"));
    }

    [TestCase("proxy-alias:443", "proxy-alias")]
    [TestCase("127.0.0.1:443", "proxy-alias")]
    [TestCase("proxy-alias:8443", "proxy-alias")]
    public async Task ProxyHostThroughTlsTunnel_AppSeesHostNamingTheProxyHost(string connectTo, string sni)
    {
        await using var app = await TestApp.StartAsync(
            t => t.ProxyHosts.Add("proxy-alias"),
            web => web.MapGet("/hello", (HttpContext context) => "alias " + context.Request.Host.Value).RequireHost("proxy-alias", "proxy-alias:8443"));
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await c.ConnectAsync(connectTo)).Status, Is.EqualTo(200));
        await c.StartTlsAsync(app, sni);
        await c.SendAsync("GET /hello HTTP/1.1\r\nHost: somewhere.else\r\n\r\n");
        var expected = connectTo.EndsWith(":8443", StringComparison.Ordinal) ? "alias proxy-alias:8443" : "alias proxy-alias";
        Assert.That((await c.ReadResponseAsync()).Text, Is.EqualTo(expected));
    }

    [Test]
    public async Task ProxyHostThroughPlainTunnel_AppSeesHostNamingTheProxyHost()
    {
        await using var app = await TestApp.StartAsync(
            t => t.ProxyHosts.Add("proxy-alias"),
            web => web.MapGet("/hello", (HttpContext context) => "alias " + context.Request.Host.Value).RequireHost("proxy-alias"));
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await c.ConnectAsync("proxy-alias:80")).Status, Is.EqualTo(200));
        await c.SendAsync("GET /hello HTTP/1.1\r\nHost: somewhere.else\r\n\r\n");
        Assert.That((await c.ReadResponseAsync()).Text, Is.EqualTo("alias proxy-alias"));
    }
}
