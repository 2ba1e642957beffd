using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;

namespace ProxTunnel.Tests.Gateway;

/// <summary>curl through the real gateway process with its defaults (prefix /prefix/, built-in inspector).</summary>
[NonParallelizable]
public sealed class GatewayCurlTests
{
    private GatewayProcess _gateway = null!;
    private string _root = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _gateway = await GatewayProcess.StartAsync();
        _root = await Curl.DownloadRootAsync(_gateway);
    }

    [OneTimeTearDown]
    public async Task StopAsync() => await _gateway.DisposeAsync();

    [Test]
    public void Banner_WhenStarted_ShowsAddressCaFingerprintAndCurlLines()
    {
        var stdout = _gateway.StdOut;
        using var root = X509Certificate2.CreateFromPemFile(_gateway.CaPath);
        var fingerprint = Convert.ToHexString(SHA256.HashData(root.RawData));
        Assert.Multiple(() =>
        {
            Assert.That(_gateway.ListeningUrls, Is.EqualTo(new[] { _gateway.ProxyUrl }));
            Assert.That(stdout, Does.Contain(_gateway.CaPath));
            Assert.That(stdout.Replace(":", "", StringComparison.Ordinal), Does.Contain(fingerprint));
            Assert.That(stdout, Does.Contain("root expires: 20"));
            Assert.That(stdout, Does.Contain($"curl --proxy {_gateway.ProxyUrl} http://example.com/"));
            Assert.That(stdout, Does.Contain($"curl -s --proxy {_gateway.ProxyUrl} http://proxtunnel/download/pem -o proxtunnel-ca.pem"));
            Assert.That(stdout, Does.Contain($"curl --proxy {_gateway.ProxyUrl} --cacert proxtunnel-ca.pem https://example.com/"));
            Assert.That(stdout, Does.Not.Contain("warning"));
        });
    }

    [Test]
    public async Task Http_WhenProxied_InspectorShowsPrefixedTarget()
    {
        var json = await Curl.GetJsonAsync("--proxy", _gateway.ProxyUrl, "http://Example.com/a/b?x=1&y=%20z");
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["method"], Is.EqualTo("GET"));
            Assert.That((string?)json["target"], Is.EqualTo("/prefix/http://example.com/a/b?x=1&y=%20z"));
            // The target is normalized; the Host header is passed through byte for byte, as curl sent it.
            Assert.That((string?)json["host"], Is.EqualTo("Example.com"));
            Assert.That((bool?)json["isHttps"], Is.False);
            Assert.That((string?)json["headers"]!["User-Agent"], Does.StartWith("curl/"));
            Assert.That(json["headers"]!.AsObject().ContainsKey("Proxy-Connection"), Is.False);
            Assert.That((long?)json["bodyLength"], Is.Zero);
            Assert.That((string?)json["bodySha256"], Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData([]))));
            Assert.That(json["tunnel"], Is.Null);
        });
    }

    [Test]
    public async Task Https_WithDownloadedRoot_TlsTerminatedAndTunnelReported()
    {
        var json = await Curl.GetJsonAsync("--proxy", _gateway.ProxyUrl, "--cacert", _root, "https://example.com/secure?q=1");
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo("/prefix/https://example.com/secure?q=1"));
            Assert.That((bool?)json["isHttps"], Is.True);
            Assert.That((string?)json["tunnel"]!["host"], Is.EqualTo("example.com"));
            Assert.That(json["tunnel"]!["port"]!.GetValueKind(), Is.EqualTo(System.Text.Json.JsonValueKind.Number));
            Assert.That((int?)json["tunnel"]!["port"], Is.EqualTo(443));
            Assert.That((string?)json["tunnel"]!["sni"], Is.EqualTo("example.com"));
            Assert.That((bool?)json["tunnel"]!["tls"], Is.True);
        });
    }

    [TestCase("http://example.com:8000/x", "/prefix/http://example.com:8000/x")]
    [TestCase("https://example.com:8443/x", "/prefix/https://example.com:8443/x")]
    [TestCase("https://127.0.0.1:9443/ip", "/prefix/https://127.0.0.1:9443/ip")]
    public async Task CustomPort_WhenProxied_PortKeptInTarget(string url, string expected)
    {
        var json = await Curl.GetJsonAsync("--proxy", _gateway.ProxyUrl, "--cacert", _root, url);
        Assert.That((string?)json["target"], Is.EqualTo(expected));
    }

    [Test]
    public async Task PlainHttpTunnel_WhenProxytunnelFlag_SniNullAndTlsFalse()
    {
        var json = await Curl.GetJsonAsync("--proxy", _gateway.ProxyUrl, "--proxytunnel", "http://example.com:8080/plain");
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo("/prefix/http://example.com:8080/plain"));
            Assert.That((bool?)json["tunnel"]!["tls"], Is.False);
            Assert.That(json["tunnel"]!["sni"], Is.Null);
            Assert.That((int?)json["tunnel"]!["port"], Is.EqualTo(8080));
        });
    }

    [TestCase("http")]
    [TestCase("https")]
    public async Task ChunkedUpload_FromFile_BodyLengthAndShaMatch(string scheme)
    {
        var file = Path.Combine(_gateway.Directory, $"upload-{scheme}.bin");
        var data = new byte[300_000];
        new Random(42).NextBytes(data);
        await File.WriteAllBytesAsync(file, data);
        // Chunked request framing is HTTP/1.1's: pin it, as HTTPS tunnels would otherwise negotiate HTTP/2.
        var json = await Curl.GetJsonAsync("--http1.1", "--proxy", _gateway.ProxyUrl, "--cacert", _root, "-H", "Transfer-Encoding: chunked",
            "--data-binary", "@" + file, $"{scheme}://example.com/upload");
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["method"], Is.EqualTo("POST"));
            Assert.That((string?)json["headers"]!["Transfer-Encoding"], Is.EqualTo("chunked"));
            Assert.That((long?)json["bodyLength"], Is.EqualTo(data.Length));
            Assert.That((string?)json["bodySha256"], Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(data))));
        });
    }

    [TestCase("http")]
    [TestCase("https")]
    public async Task TwoUrls_OneInvocation_ReuseTheConnection(string scheme)
    {
        var result = await Curl.RunAsync("--proxy", _gateway.ProxyUrl, "--cacert", _root, "--verbose",
            "-w", "|%{num_connects}|\n", $"{scheme}://example.com/one", $"{scheme}://example.com/two");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var lines = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Multiple(() =>
        {
            Assert.That(result.StdErr, Does.Contain("Re-using existing connection"));
            Assert.That(result.StdOut, Does.Contain($"\"target\":\"/prefix/{scheme}://example.com/one\""));
            Assert.That(result.StdOut, Does.Contain($"\"target\":\"/prefix/{scheme}://example.com/two\""));
            Assert.That(lines.Where(l => l.StartsWith('|')), Is.EqualTo(new[] { "|1|", "|0|" }));
        });
    }

    [TestCase("http", 0)]
    [TestCase("http", 5_000_000)]
    [TestCase("https", 1_234_567)]
    public async Task SizeQuery_WhenAsked_StreamsThatManyBytes(string scheme, int size)
    {
        var result = await Curl.RunAsync("--proxy", _gateway.ProxyUrl, "--cacert", _root, "-D", "-", "-o", "/dev/null",
            "-w", "%{size_download}", $"{scheme}://example.com/big?size={size}");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.Multiple(() =>
        {
            // Header names are lower-case when the tunnel speaks HTTP/2.
            Assert.That(result.StdOut, Does.Contain("Content-Type: application/octet-stream").IgnoreCase);
            Assert.That(result.StdOut, Does.Contain($"Content-Length: {size}").IgnoreCase);
            Assert.That(result.StdOut.TrimEnd(), Does.EndWith("\n" + size.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        });
    }

    [Test]
    public async Task ChunkedQuery_WhenTrue_ResponseIsChunked()
    {
        var result = await Curl.RunAsync("--proxy", _gateway.ProxyUrl, "-i", "http://example.com/c?chunked=true");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var body = result.StdOut[(result.StdOut.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        Assert.Multiple(() =>
        {
            Assert.That(result.StdOut, Does.Contain("Transfer-Encoding: chunked"));
            Assert.That(result.StdOut, Does.Not.Contain("Content-Length"));
            Assert.That((string?)JsonNode.Parse(body)!["target"], Is.EqualTo("/prefix/http://example.com/c?chunked=true"));
        });
    }

    [Test]
    public async Task DefaultResponse_HasContentLengthAndOneJsonLine()
    {
        var result = await Curl.RunAsync("--proxy", _gateway.ProxyUrl, "-i", "http://example.com/len");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var split = result.StdOut.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var body = result.StdOut[(split + 4)..];
        Assert.Multiple(() =>
        {
            Assert.That(result.StdOut[..split], Does.Contain($"Content-Length: {System.Text.Encoding.UTF8.GetByteCount(body)}"));
            Assert.That(result.StdOut[..split], Does.Contain("Content-Type: application/json"));
            Assert.That(body.TrimEnd('\n'), Does.Not.Contain('\n'));
        });
    }

    [TestCase("http", 201)]
    [TestCase("https", 404)]
    [TestCase("http", 503)]
    public async Task StatusQuery_WhenGiven_SetsStatus(string scheme, int status)
    {
        var result = await Curl.RunAsync("--proxy", _gateway.ProxyUrl, "--cacert", _root, "-o", "/dev/null", "-w", "%{http_code}",
            $"{scheme}://example.com/s?status={status}");
        Assert.That(result.StdOut, Is.EqualTo(status.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public async Task LandingPage_WhenAskedThroughProxy_AnsweredByLibrary()
    {
        var page = await Curl.GetAsync("--proxy", _gateway.ProxyUrl, "http://proxtunnel/");
        Assert.Multiple(() =>
        {
            Assert.That(page, Does.Contain("/download/pem"));
            Assert.That(page, Does.Not.Contain("\"target\""));
        });
    }

    [Test]
    public async Task DownloadedRoot_IsTheCaCertificateWithoutKey()
    {
        var pem = await File.ReadAllTextAsync(_root);
        using var downloaded = X509Certificate2.CreateFromPem(pem);
        using var ca = X509Certificate2.CreateFromPemFile(_gateway.CaPath);
        Assert.Multiple(() =>
        {
            Assert.That(pem, Does.Not.Contain("PRIVATE KEY"));
            Assert.That(downloaded.Thumbprint, Is.EqualTo(ca.Thumbprint));
        });
    }

    [Test]
    public async Task OriginForm_WithoutProxy_ReachesInspectorUntouched()
    {
        var json = await Curl.GetJsonAsync($"{_gateway.ProxyUrl}/direct?x=1");
        Assert.That((string?)json["target"], Is.EqualTo("/direct?x=1"));
    }
}
