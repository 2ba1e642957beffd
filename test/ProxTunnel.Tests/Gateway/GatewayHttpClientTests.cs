using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;

namespace ProxTunnel.Tests.Gateway;

/// <summary>.NET HttpClient (SocketsHttpHandler with WebProxy) through the real gateway process.</summary>
[NonParallelizable]
public sealed class GatewayHttpClientTests
{
    private GatewayProcess _gateway = null!;
    private X509Certificate2 _root = null!;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _gateway = await GatewayProcess.StartAsync();
        _root = X509CertificateLoader.LoadCertificateFromFile(await Curl.DownloadRootAsync(_gateway));
        var handler = new SocketsHttpHandler
        {
            Proxy = new WebProxy(_gateway.ProxyUrl),
            UseProxy = true,
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) => GatewayWebSocketTests.Trusted(_root, certificate, errors),
            },
        };
        _client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _client.Dispose();
        _root.Dispose();
        await _gateway.DisposeAsync();
    }

    [TestCase("http://example.com/hc?a=1", "/prefix/http://example.com/hc?a=1")]
    [TestCase("https://example.com/hc?a=2", "/prefix/https://example.com/hc?a=2")]
    [TestCase("https://[::1]:8443/v6", "/prefix/https://[::1]:8443/v6")]
    public async Task Get_ThroughGateway_TargetPrefixed(string url, string target)
    {
        var json = JsonNode.Parse(await _client.GetStringAsync(url))!;
        Assert.That((string?)json["target"], Is.EqualTo(target));
    }

    [TestCase("http")]
    [TestCase("https")]
    public async Task Post_ContentLengthBody_HashMatches(string scheme)
    {
        var data = new byte[100_000];
        new Random(7).NextBytes(data);
        using var response = await _client.PostAsync($"{scheme}://example.com/post", new ByteArrayContent(data));
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Multiple(() =>
        {
            Assert.That((long?)json["bodyLength"], Is.EqualTo(data.Length));
            Assert.That((string?)json["bodySha256"], Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(data))));
            Assert.That((string?)json["headers"]!["Content-Length"], Is.EqualTo("100000"));
        });
    }

    [Test]
    public async Task RepeatedHeaders_AreJoinedWithCommaSpace()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://example.com/headers");
        request.Headers.TryAddWithoutValidation("X-Multi", ["one", "two"]);
        using var response = await _client.SendAsync(request);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((string?)json["headers"]!["X-Multi"], Is.EqualTo("one, two"));
    }

    [Test]
    public async Task SizeQuery_LargeDownload_StreamsExactLength()
    {
        const long size = 50L * 1024 * 1024;
        using var response = await _client.GetAsync("https://example.com/large?size=" + size, HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[81920];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            total += read;
        }

        Assert.Multiple(() =>
        {
            Assert.That(response.Content.Headers.ContentLength, Is.EqualTo(size));
            Assert.That(total, Is.EqualTo(size));
        });
    }

    [Test]
    public async Task Head_GetsContentLengthWithoutBody()
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, "http://example.com/head?size=1234");
        using var response = await _client.SendAsync(request);
        Assert.That(response.Content.Headers.ContentLength, Is.EqualTo(1234));
    }
}
