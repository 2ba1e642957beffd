using System.Text.Json.Nodes;

namespace ProxTunnel.Tests.Gateway;

/// <summary>--listen-tls, --auth, --prefix, --proxy-host and a second --listen on the real process.</summary>
[NonParallelizable]
public sealed class GatewayOptionsTests
{
    [Test]
    public async Task ListenTls_WhenCurlUsesHttpsProxy_ProxiesHttpAndHttps()
    {
        var tlsPort = GatewayProcess.FreePort();
        await using var gateway = await GatewayProcess.StartAsync("--listen-tls", $"127.0.0.1:{tlsPort}");
        var root = await Curl.DownloadRootAsync(gateway);
        var proxy = $"https://127.0.0.1:{tlsPort}";
        Assert.That(gateway.ListeningUrls, Does.Contain(proxy));
        var http = await Curl.GetJsonAsync("--proxy", proxy, "--proxy-cacert", root, "http://example.com/over-tls");
        var https = await Curl.GetJsonAsync("--proxy", proxy, "--proxy-cacert", root, "--cacert", root, "https://example.com/over-tls");
        var direct = await Curl.GetJsonAsync("--cacert", root, $"{proxy}/direct");
        Assert.Multiple(() =>
        {
            Assert.That((string?)http["target"], Is.EqualTo("/prefix/http://example.com/over-tls"));
            Assert.That((string?)https["target"], Is.EqualTo("/prefix/https://example.com/over-tls"));
            Assert.That((bool?)https["isHttps"], Is.True);
            Assert.That((string?)direct["target"], Is.EqualTo("/direct"));
        });
    }

    [Test]
    public async Task HttpsProxyOnPlainPort_WhenFirstByteIsTls_Works()
    {
        await using var gateway = await GatewayProcess.StartAsync();
        var root = await Curl.DownloadRootAsync(gateway);
        var json = await Curl.GetJsonAsync("--proxy", $"https://127.0.0.1:{gateway.Port}", "--proxy-cacert", root, "--cacert", root,
            "https://example.com/same-port");
        Assert.That((string?)json["target"], Is.EqualTo("/prefix/https://example.com/same-port"));
    }

    [Test]
    public async Task Auth_WithoutCredentials_Gets407AndUserBecomesPrefix()
    {
        await using var gateway = await GatewayProcess.StartAsync("--auth", "--prefix", "/ignored/");
        var challenge = await Curl.RunAsync("--proxy", gateway.ProxyUrl, "-i", "http://example.com/x");
        var root = await Curl.DownloadRootAsync(gateway);
        var http = await Curl.GetJsonAsync("--proxy", gateway.ProxyUrl, "--proxy-user", "alice:secret", "http://example.com/x");
        var https = await Curl.GetJsonAsync("--proxy", gateway.ProxyUrl, "--proxy-user", "bob:pw", "--cacert", root, "https://example.com/y");
        Assert.Multiple(() =>
        {
            Assert.That(challenge.StdOut, Does.StartWith("HTTP/1.1 407"));
            Assert.That(challenge.StdOut, Does.Contain("Proxy-Authenticate: Basic realm=\"proxtunnel\""));
            Assert.That((string?)http["target"], Is.EqualTo("/alice/http://example.com/x"));
            Assert.That(http["headers"]!.AsObject().ContainsKey("Proxy-Authorization"), Is.False);
            Assert.That((string?)https["target"], Is.EqualTo("/bob/https://example.com/y"));
        });
    }

    [Test]
    public async Task AuthRealm_WhenGiven_NamedInChallenge()
    {
        await using var gateway = await GatewayProcess.StartAsync("--auth", "office");
        var challenge = await Curl.RunAsync("--proxy", gateway.ProxyUrl, "-i", "http://example.com/x");
        Assert.That(challenge.StdOut, Does.Contain("Proxy-Authenticate: Basic realm=\"office\""));
    }

    [Test]
    public async Task PrefixAndProxyHost_WhenGiven_Used()
    {
        await using var gateway = await GatewayProcess.StartAsync("--prefix", "/rec/", "--proxy-host", "gate.local");
        var json = await Curl.GetJsonAsync("--proxy", gateway.ProxyUrl, "http://example.com/z");
        var page = await Curl.GetAsync("--proxy", gateway.ProxyUrl, "http://gate.local/");
        var pem = await Curl.GetAsync("--proxy", gateway.ProxyUrl, "http://gate.local/download/pem");
        var oldName = JsonNode.Parse(await Curl.GetAsync("--proxy", gateway.ProxyUrl, "http://proxtunnel/"))!;
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo("/rec/http://example.com/z"));
            Assert.That(page, Does.Contain("/download/pem"));
            Assert.That(pem, Does.StartWith("-----BEGIN CERTIFICATE-----"));
            Assert.That((string?)oldName["target"], Is.EqualTo("/rec/http://proxtunnel/"));
            Assert.That(gateway.StdOut, Does.Contain("http://gate.local/download/pem"));
        });
    }

    [Test]
    public async Task Banner_WhenRootExpiresWithin90Days_PrintsWarning()
    {
        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-gateway-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var ca = Path.Combine(directory, "short.pem");
        try
        {
            ProxTunnel.Certificates.ProxyCertificateAuthority.InitializeRoot(
                new ProxTunnel.Certificates.CertificateAuthorityOptions { RootCertificatePath = ca, RootLifetime = TimeSpan.FromDays(30) }, force: false);
            await using var gateway = await GatewayProcess.StartAsync("--ca", ca);
            Assert.Multiple(() =>
            {
                Assert.That(gateway.StdOut, Does.Contain("warning: the root CA expires in"));
                Assert.That(gateway.StdOut, Does.Contain(ca));
            });
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task TwoListeners_WhenRepeated_BothServe()
    {
        var second = GatewayProcess.FreePort();
        await using var gateway = await GatewayProcess.StartAsync("--listen", $"127.0.0.1:{second}");
        var a = await Curl.GetJsonAsync("--proxy", gateway.ProxyUrl, "http://example.com/a");
        var b = await Curl.GetJsonAsync("--proxy", $"http://127.0.0.1:{second}", "http://example.com/b");
        Assert.Multiple(() =>
        {
            Assert.That(gateway.ListeningUrls, Has.Count.EqualTo(2));
            Assert.That((string?)a["target"], Is.EqualTo("/prefix/http://example.com/a"));
            Assert.That((string?)b["target"], Is.EqualTo("/prefix/http://example.com/b"));
        });
    }
}
