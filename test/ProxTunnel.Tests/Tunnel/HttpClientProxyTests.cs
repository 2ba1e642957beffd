using System.Net;
using System.Text;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Tunnel;

public sealed class HttpClientProxyTests
{
    [Test]
    public async Task PlainHttp_AbsoluteForm_ReachesAppWithPrefixedTarget()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/prefix/");
        using var client = app.CreateClient();
        var body = await client.GetStringAsync("http://Example.COM/a/b?x=1&y=%20z");
        var json = TestApp.ParseJson(body);
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo("/prefix/http://example.com/a/b?x=1&y=%20z"));
            Assert.That((bool?)json["isHttps"], Is.False);
            Assert.That((string?)json["host"], Is.EqualTo("example.com"));
            Assert.That(json["tunnel"], Is.Null);
            Assert.That(json["headers"]!.AsObject().ContainsKey("Proxy-Connection"), Is.False);
        });
    }

    [Test]
    public async Task Https_ThroughConnect_ReachesAppWithHttpsTargetAndIsHttps()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/prefix/");
        using var client = app.CreateClient();
        var body = await client.GetStringAsync("https://example.com/path?q=1");
        var json = TestApp.ParseJson(body);
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo("/prefix/https://example.com/path?q=1"));
            Assert.That((bool?)json["isHttps"], Is.True);
            Assert.That((string?)json["tunnel"]!["host"], Is.EqualTo("example.com"));
            Assert.That((int?)json["tunnel"]!["port"], Is.EqualTo(443));
            Assert.That((string?)json["tunnel"]!["sni"], Is.EqualTo("example.com"));
            Assert.That((bool?)json["tunnel"]!["tls"], Is.True);
            Assert.That((string?)json["tlsHostName"], Is.EqualTo("example.com"));
        });
    }

    [Test]
    public async Task Https_CustomPort_KeepsPortInTarget()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        using var client = app.CreateClient();
        var json = TestApp.ParseJson(await client.GetStringAsync("https://example.com:8443/x"));
        Assert.That((string?)json["target"], Is.EqualTo("/p/https://example.com:8443/x"));
    }

    [Test]
    public async Task Http_CustomPort_KeepsPortInTarget()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        using var client = app.CreateClient();
        var json = TestApp.ParseJson(await client.GetStringAsync("http://example.com:8000/x"));
        Assert.That((string?)json["target"], Is.EqualTo("/p/http://example.com:8000/x"));
    }

    [TestCase("https://127.0.0.1/ip", "/p/https://127.0.0.1/ip")]
    [TestCase("https://[::1]:8443/ip6", "/p/https://[::1]:8443/ip6")]
    [TestCase("http://[2001:db8::1]/v6", "/p/http://[2001:db8::1]/v6")]
    [TestCase("http://10.1.2.3:81/v4", "/p/http://10.1.2.3:81/v4")]
    public async Task IpLiterals_KeepBracketsAndPorts(string url, string expected)
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        using var client = app.CreateClient();
        var json = TestApp.ParseJson(await client.GetStringAsync(url));
        Assert.That((string?)json["target"], Is.EqualTo(expected));
    }

    [TestCase("http")]
    [TestCase("https")]
    public async Task Post_ContentLengthAndChunked_BodiesArriveIntact(string scheme)
    {
        await using var app = await TestApp.StartAsync();
        using var client = app.CreateClient();
        var payload = new byte[200_003];
        Random.Shared.NextBytes(payload);
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(payload));

        using var fixedContent = new ByteArrayContent(payload);
        var fixedJson = TestApp.ParseJson(await (await client.PostAsync($"{scheme}://example.com/cl", fixedContent)).Content.ReadAsStringAsync());

        using var chunkedContent = new StreamContent(new MemoryStream(payload));
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{scheme}://example.com/chunked") { Content = chunkedContent };
        request.Headers.TransferEncodingChunked = true;
        var chunkedJson = TestApp.ParseJson(await (await client.SendAsync(request)).Content.ReadAsStringAsync());

        Assert.Multiple(() =>
        {
            Assert.That((long?)fixedJson["bodyLength"], Is.EqualTo(payload.Length));
            Assert.That((string?)fixedJson["bodySha256"], Is.EqualTo(expected));
            Assert.That((long?)chunkedJson["bodyLength"], Is.EqualTo(payload.Length));
            Assert.That((string?)chunkedJson["bodySha256"], Is.EqualTo(expected));
            Assert.That((string?)chunkedJson["target"], Is.EqualTo($"/{scheme}://example.com/chunked"));
        });
    }

    [TestCase("http")]
    [TestCase("https")]
    public async Task KeepAlive_ManyRequestsShareOneConnection(string scheme)
    {
        await using var app = await TestApp.StartAsync();
        using var client = app.CreateClient();
        for (var i = 0; i < 50; i++)
        {
            var json = TestApp.ParseJson(await client.GetStringAsync($"{scheme}://example.com/{i}"));
            Assert.That((string?)json["target"], Is.EqualTo($"/{scheme}://example.com/{i}"));
        }
    }

    [Test]
    public async Task OriginForm_OutsideTunnel_IsUntouched()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/prefix/");
        using var client = new HttpClient();
        var json = TestApp.ParseJson(await client.GetStringAsync(new Uri(app.ProxyUri, "/direct?x=1")));
        Assert.That((string?)json["target"], Is.EqualTo("/direct?x=1"));
    }
}
