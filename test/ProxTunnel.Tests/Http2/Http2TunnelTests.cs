using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using ProxTunnel.Tests.Gateway;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Http2;

/// <summary>HTTP/2 inside TLS tunnels, end to end through real clients (SPEC §3.9, §4).</summary>
public sealed class Http2TunnelTests
{
    /// <summary>Adds the protocol the app saw as a response header, beside the echo's JSON.</summary>
    private static void ReportProtocol(WebApplication app) => app.Use((context, next) =>
    {
        context.Response.Headers["x-protocol"] = context.Request.Protocol;
        return next(context);
    });

    private static Task<TestApp> StartAsync(Action<ProxyTunnelOptions>? configure = null)
        => TestApp.StartAsync(t =>
        {
            t.Prefix = "/p/";
            configure?.Invoke(t);
        }, ReportProtocol);

    private static string WriteRoot(TestApp app)
    {
        var path = Path.Combine(app.Directory, "root.pem");
        File.WriteAllText(path, app.Authority.RootCertificate.ExportCertificatePem());
        return path;
    }

    private static async Task<(string Head, JsonNode Json)> CurlAsync(TestApp app, string protocolFlag, string url)
    {
        var output = await Curl.GetAsync(protocolFlag, "-i", "--suppress-connect-headers", "-x", app.ProxyUri.ToString(), "--cacert", WriteRoot(app), url);
        var split = output.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return (output[..split], TestApp.ParseJson(output[(split + 4)..]));
    }

    [Test]
    public async Task Curl_GetsHttp2AndRewrittenTarget_WhenTunnelNegotiatesH2()
    {
        await using var app = await StartAsync();
        var (head, json) = await CurlAsync(app, "--http2", "https://Example.com/a/b?x=1");
        Assert.Multiple(() =>
        {
            Assert.That(head, Does.StartWith("HTTP/2 200"));
            Assert.That(head, Does.Contain("x-protocol: HTTP/2"));
            Assert.That((string?)json["target"], Is.EqualTo("/p/https://example.com/a/b?x=1"));
            Assert.That((bool?)json["isHttps"], Is.True);
            Assert.That((string?)json["tunnel"]!["host"], Is.EqualTo("example.com"));
        });
    }

    [Test]
    public async Task Curl_StaysOnHttp11_WhenHttp2OptionIsOff()
    {
        await using var app = await StartAsync(t => t.Http2 = false);
        var (head, json) = await CurlAsync(app, "--http2", "https://example.com/off");
        Assert.Multiple(() =>
        {
            Assert.That(head, Does.StartWith("HTTP/1.1 200"));
            Assert.That((string?)json["target"], Is.EqualTo("/p/https://example.com/off"));
        });
    }

    [Test]
    public async Task Curl_Http11Tunnel_StillWorks_WhenListenerOffersH2()
    {
        await using var app = await StartAsync();
        var (head, json) = await CurlAsync(app, "--http1.1", "https://example.com/one");
        Assert.Multiple(() =>
        {
            Assert.That(head, Does.StartWith("HTTP/1.1 200"));
            Assert.That(head, Does.Contain("x-protocol: HTTP/1.1"));
            Assert.That((string?)json["target"], Is.EqualTo("/p/https://example.com/one"));
        });
    }

    [Test]
    public async Task HttpClient_SeesHttp2AndRewrittenTargets_OnManyRequestsOverOneTunnel()
    {
        await using var app = await StartAsync();
        using var client = app.CreateClient();
        client.DefaultRequestVersion = HttpVersion.Version20;
        client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        var tasks = Enumerable.Range(0, 20).Select(async i =>
        {
            using var response = await client.GetAsync(new Uri($"https://example.com:8443/r/{i}?q={i}"));
            var json = TestApp.ParseJson(await response.Content.ReadAsStringAsync());
            return (response.Version, Target: (string?)json["target"], Protocol: response.Headers.GetValues("x-protocol").Single());
        }).ToArray();
        var results = await Task.WhenAll(tasks);
        Assert.Multiple(() =>
        {
            for (var i = 0; i < results.Length; i++)
            {
                Assert.That(results[i].Version, Is.EqualTo(HttpVersion.Version20));
                Assert.That(results[i].Protocol, Is.EqualTo("HTTP/2"));
                Assert.That(results[i].Target, Is.EqualTo($"/p/https://example.com:8443/r/{i}?q={i}"));
            }
        });
    }

    [Test]
    public async Task HttpClient_PostBodyAndProxyHeaders_ArriveRewritten_OverHttp2()
    {
        await using var app = await StartAsync();
        using var client = app.CreateClient();
        var body = new byte[200_000];
        Random.Shared.NextBytes(body);
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://example.com/upload")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Headers.TryAddWithoutValidation("Proxy-Authorization", "Basic c2VjcmV0");
        request.Headers.Add("X-Custom", "kept");
        using var response = await client.SendAsync(request);
        var json = TestApp.ParseJson(await response.Content.ReadAsStringAsync());
        Assert.Multiple(() =>
        {
            Assert.That(response.Version, Is.EqualTo(HttpVersion.Version20));
            Assert.That((string?)json["method"], Is.EqualTo("POST"));
            Assert.That((string?)json["target"], Is.EqualTo("/p/https://example.com/upload"));
            Assert.That((long?)json["bodyLength"], Is.EqualTo(body.Length));
            Assert.That((string?)json["bodySha256"], Is.EqualTo(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body))));
            Assert.That((string?)json["headers"]!["x-custom"], Is.EqualTo("kept"));
            Assert.That(json["headers"]!.AsObject().Any(h => h.Key.Equals("Proxy-Authorization", StringComparison.OrdinalIgnoreCase)), Is.False);
        });
    }

    [Test]
    public async Task ProxyAuthResolver_RunsPerStream_WithTheConnectCredentials()
    {
        await using var app = await StartAsync(t => t.PrefixResolver = new ProxTunnel.Resolvers.ProxyAuthPrefixResolver("archive"));
        using var client = app.CreateClient(new NetworkCredential("alice", "secret"));
        client.DefaultRequestVersion = HttpVersion.Version20;
        client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.GetAsync(new Uri($"https://example.com/page/{i}"));
            var json = TestApp.ParseJson(await response.Content.ReadAsStringAsync());
            Assert.Multiple(() =>
            {
                Assert.That(response.Version, Is.EqualTo(HttpVersion.Version20));
                Assert.That((string?)json["target"], Is.EqualTo($"/alice/https://example.com/page/{i}"));
                Assert.That((string?)json["tunnel"]!["proxyAuthorization"], Does.StartWith("Basic "));
            });
        }
    }

    [Test]
    public async Task HttpClient_ConcurrentLargeUploadsAndDownloads_ArriveIntact_OverOneHttp2Connection()
    {
        await using var app = await StartAsync();
        using var client = app.CreateClient();
        var tasks = Enumerable.Range(0, 24).Select(async i =>
        {
            var body = new byte[100_000 + i * 7919];
            new Random(i).NextBytes(body);
            using var request = new HttpRequestMessage(HttpMethod.Put, $"https://example.com/up/{i}")
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Content = new ByteArrayContent(body),
            };
            using var response = await client.SendAsync(request);
            var json = TestApp.ParseJson(await response.Content.ReadAsStringAsync());
            return (Expected: Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body)), Actual: (string?)json["bodySha256"],
                Target: (string?)json["target"], response.Version);
        }).ToArray();
        var results = await Task.WhenAll(tasks);
        Assert.Multiple(() =>
        {
            for (var i = 0; i < results.Length; i++)
            {
                Assert.That(results[i].Actual, Is.EqualTo(results[i].Expected));
                Assert.That(results[i].Target, Is.EqualTo($"/p/https://example.com/up/{i}"));
                Assert.That(results[i].Version, Is.EqualTo(HttpVersion.Version20));
            }
        });
    }
}
