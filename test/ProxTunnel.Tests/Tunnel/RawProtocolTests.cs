using System.Text;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Tunnel;

public sealed class RawProtocolTests
{
    [Test]
    public async Task PipelinedAbsoluteFormRequests_AllRewrittenInOrder()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync(
            "GET http://a.example/1 HTTP/1.1\r\nHost: a.example\r\n\r\n" +
            "POST http://b.example/2 HTTP/1.1\r\nHost: b.example\r\nContent-Length: 5\r\n\r\nhello" +
            "GET http://c.example:81/3?q HTTP/1.1\r\nHost: c.example:81\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eDp5\r\n\r\n");
        var r1 = await c.ReadResponseAsync();
        var r2 = await c.ReadResponseAsync();
        var r3 = await c.ReadResponseAsync();
        Assert.Multiple(() =>
        {
            Assert.That((string?)r1.Json["target"], Is.EqualTo("/p/http://a.example/1"));
            Assert.That((string?)r2.Json["target"], Is.EqualTo("/p/http://b.example/2"));
            Assert.That((long?)r2.Json["bodyLength"], Is.EqualTo(5));
            Assert.That((string?)r3.Json["target"], Is.EqualTo("/p/http://c.example:81/3?q"));
            Assert.That(r3.Json["headers"]!.AsObject().ContainsKey("Proxy-Authorization"), Is.False);
            Assert.That(r3.Json["headers"]!.AsObject().ContainsKey("Proxy-Connection"), Is.False);
        });
    }

    [Test]
    public async Task Connect_Http10_AnsweredInHttp10()
    {
        await using var app = await TestApp.StartAsync();
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync("CONNECT example.com:80 HTTP/1.0\r\n\r\n");
        var buffer = new byte[64];
        var read = await c.Stream.ReadAsync(buffer);
        Assert.That(Encoding.ASCII.GetString(buffer, 0, read), Is.EqualTo("HTTP/1.0 200 Connection Established\r\n\r\n"));
    }

    [TestCase("example.com")]
    [TestCase("example.com:0")]
    [TestCase("example.com:65536")]
    [TestCase("example.com:443x")]
    [TestCase("http://example.com:443")]
    [TestCase("[::1:443")]
    [TestCase("[zz::1]:443")]
    [TestCase("exa mple.com:443")]
    [TestCase("user@example.com:443")]
    [TestCase(":443")]
    public async Task Connect_BadAuthority_Gets400AndClose(string authority)
    {
        await using var app = await TestApp.StartAsync();
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: x\r\n\r\n");
        var response = await c.ReadResponseAsync();
        Assert.That(response.Status, Is.EqualTo(400));
        Assert.That(await c.IsClosedByServerAsync(), Is.True);
    }

    [Test]
    public async Task Tunnel_SniDiffersFromConnectHost_TargetUsesSni()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await c.ConnectAsync("127.0.0.1:8443")).Status, Is.EqualTo(200));
        await c.StartTlsAsync(app, "sni.example");
        await c.SendAsync("GET /x HTTP/1.1\r\nHost: sni.example\r\n\r\n");
        var json = (await c.ReadResponseAsync()).Json;
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo("/p/https://sni.example:8443/x"));
            Assert.That((string?)json["tunnel"]!["host"], Is.EqualTo("127.0.0.1"));
            Assert.That((string?)json["tunnel"]!["sni"], Is.EqualTo("sni.example"));
        });
    }

    [TestCase("example.org:8443")]
    [TestCase("evil.example/x?")]
    public async Task Tunnel_SniThatIsNoHostName_IgnoredForCertificateAndTarget(string serverName)
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await c.ConnectAsync("connect.example:443")).Status, Is.EqualTo(200));
        await c.StartTlsAsync(app, serverName);
        await c.SendAsync("GET /x HTTP/1.1\r\nHost: connect.example\r\n\r\n");
        var json = (await c.ReadResponseAsync()).Json;
        Assert.That((string?)json["target"], Is.EqualTo("/p/https://connect.example/x"));
    }

    [Test]
    public async Task Tunnel_NoSni_CertificateForConnectIpAndTargetUsesIt()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await c.ConnectAsync("[::1]:443")).Status, Is.EqualTo(200));
        var ssl = await c.StartTlsAsync(app, serverName: null);
        Assert.That(ssl.RemoteCertificate!.Subject + ((System.Security.Cryptography.X509Certificates.X509Certificate2)ssl.RemoteCertificate).Extensions.Count, Is.Not.Empty);
        await c.SendAsync("GET /v6 HTTP/1.1\r\nHost: [::1]\r\n\r\n");
        var json = (await c.ReadResponseAsync()).Json;
        Assert.That((string?)json["target"], Is.EqualTo("/p/https://[::1]/v6"));
        Assert.That(json["tunnel"]!["sni"], Is.Null);
    }

    [TestCase("example.com:80", "/p/http://example.com/x")]
    [TestCase("example.com:8080", "/p/http://example.com:8080/x")]
    [TestCase("EXAMPLE.com:443", "/p/http://example.com:443/x")]
    public async Task Tunnel_PlainHttpInside_UsesHttpScheme(string authority, string expected)
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await c.ConnectAsync(authority)).Status, Is.EqualTo(200));
        await c.SendAsync("GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n");
        var json = (await c.ReadResponseAsync()).Json;
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo(expected));
            Assert.That((bool?)json["isHttps"], Is.False);
            Assert.That((bool?)json["tunnel"]!["tls"], Is.False);
        });
    }

    [Test]
    public async Task Tunnel_PipelinedRequestsInsideTls_AllRewritten()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        // CONNECT and the ClientHello may arrive together; the test sends CONNECT, then TLS right away.
        await c.ConnectAsync("example.com:443");
        await c.StartTlsAsync(app, "example.com");
        await c.SendAsync(
            "GET /1 HTTP/1.1\r\nHost: example.com\r\n\r\n" +
            "POST /2 HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n" +
            "GET /3 HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi");
        var r1 = await c.ReadResponseAsync();
        var r2 = await c.ReadResponseAsync();
        var r3 = await c.ReadResponseAsync();
        if (r3.Status == 100)
        {
            r3 = await c.ReadResponseAsync();
        }

        Assert.Multiple(() =>
        {
            Assert.That((string?)r1.Json["target"], Is.EqualTo("/p/https://example.com/1"));
            Assert.That((string?)r2.Json["target"], Is.EqualTo("/p/https://example.com/2"));
            Assert.That((long?)r2.Json["bodyLength"], Is.EqualTo(3));
            Assert.That((string?)r3.Json["target"], Is.EqualTo("/p/https://example.com/3"));
            Assert.That((long?)r3.Json["bodyLength"], Is.EqualTo(2));
        });
    }

    [Test]
    public async Task Connect_AfterOtherRequestsOnSameConnection_OpensTunnel()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync("GET http://first.example/ HTTP/1.1\r\nHost: first.example\r\n\r\n");
        Assert.That((string?)(await c.ReadResponseAsync()).Json["target"], Is.EqualTo("/p/http://first.example/"));
        Assert.That((await c.ConnectAsync("second.example:443")).Status, Is.EqualTo(200));
        await c.StartTlsAsync(app, "second.example");
        await c.SendAsync("GET /s HTTP/1.1\r\nHost: second.example\r\n\r\n");
        var json = (await c.ReadResponseAsync()).Json;
        Assert.That((string?)json["target"], Is.EqualTo("/p/https://second.example/s"));
        Assert.That((bool?)json["isHttps"], Is.True);
    }

    [Test]
    public async Task ConnectInsideTunnel_Gets400()
    {
        await using var app = await TestApp.StartAsync();
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.ConnectAsync("example.com:80");
        await c.SendAsync("CONNECT other.example:443 HTTP/1.1\r\nHost: other.example:443\r\n\r\n");
        Assert.That((await c.ReadResponseAsync()).Status, Is.EqualTo(400));
    }

    [Test]
    public async Task RequestLineOverLimit_Gets414()
    {
        await using var app = await TestApp.StartAsync();
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync($"GET http://example.com/{new string('a', 9000)} HTTP/1.1\r\nHost: example.com\r\n\r\n");
        Assert.That((await c.ReadResponseAsync()).Status, Is.EqualTo(414));
        Assert.That(await c.IsClosedByServerAsync(), Is.True);
    }

    [Test]
    public async Task HeadersOverLimit_Get431()
    {
        await using var app = await TestApp.StartAsync();
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        var headers = string.Concat(Enumerable.Range(0, 40).Select(i => $"X-H{i}: {new string('b', 1000)}\r\n"));
        await c.SendAsync($"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n{headers}\r\n");
        Assert.That((await c.ReadResponseAsync()).Status, Is.EqualTo(431));
    }

    [Test]
    public async Task ProxyTls_FirstByteIsTls_ServesAbsoluteFormAndConnectInside()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.StartTlsAsync(app, serverName: null);
        await c.SendAsync("GET http://plain.example/a HTTP/1.1\r\nHost: plain.example\r\n\r\n");
        Assert.That((string?)(await c.ReadResponseAsync()).Json["target"], Is.EqualTo("/p/http://plain.example/a"));
        Assert.That((await c.ConnectAsync("inner.example:443")).Status, Is.EqualTo(200));
        await c.StartTlsAsync(app, "inner.example");
        await c.SendAsync("GET /b HTTP/1.1\r\nHost: inner.example\r\n\r\n");
        var json = (await c.ReadResponseAsync()).Json;
        Assert.That((string?)json["target"], Is.EqualTo("/p/https://inner.example/b"));
        Assert.That((bool?)json["isHttps"], Is.True);
    }

    [Test]
    public async Task UseHttpsBeforeTunnel_HttpsProxyWorks()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/", httpsBeforeTunnel: true);
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.StartTlsAsync(app, "127.0.0.1");
        await c.SendAsync("GET http://plain.example/a HTTP/1.1\r\nHost: plain.example\r\n\r\n");
        Assert.That((string?)(await c.ReadResponseAsync()).Json["target"], Is.EqualTo("/p/http://plain.example/a"));
        Assert.That((await c.ConnectAsync("inner.example:443")).Status, Is.EqualTo(200));
        await c.StartTlsAsync(app, "inner.example");
        await c.SendAsync("GET /b HTTP/1.1\r\nHost: inner.example\r\n\r\n");
        Assert.That((string?)(await c.ReadResponseAsync()).Json["target"], Is.EqualTo("/p/https://inner.example/b"));
    }
}
