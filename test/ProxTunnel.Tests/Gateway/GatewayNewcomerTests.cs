using System.Net;
using System.Net.Sockets;
using ProxTunnel.Tests.Certificates;

namespace ProxTunnel.Tests.Gateway;

/// <summary>Errors a newcomer can act on, <c>--proxy-alias</c>, and the small defaults of issue 12.</summary>
[NonParallelizable]
public sealed class GatewayNewcomerTests
{
    [TestCase("--proxy-host", "::1")]
    [TestCase("--proxy-host", "http://proxtunnel")]
    [TestCase("--proxy-host", "proxtunnel:8080")]
    [TestCase("--proxy-host", "two words")]
    [TestCase("--proxy-alias", "::1")]
    [TestCase("--proxy-alias", "app.local/path")]
    [TestCase("--prefix", "/no-trailing-slash")]
    [TestCase("--prefix", "no-leading-slash/")]
    [TestCase("--prefix", "")]
    public async Task BadNameOrPrefix_IsUsageErrorExitingTwo(string option, string value)
    {
        var result = await GatewayProcess.RunAsync(["--listen", $"127.0.0.1:{GatewayProcess.FreePort()}", option, value]);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.StdErr, Does.StartWith($"error: {option}: '{value}'"));
            Assert.That(result.StdErr, Does.Contain("Usage:"));
        });
    }

    [Test]
    public async Task UnreadableCa_WhenStarting_ExitsOneWithOneErrorLineNamingThePath()
    {
        using var directory = new TestDirectory();
        // A directory where the CA file should be: unreadable as a file even for root.
        var ca = directory.File("ca.pem");
        Directory.CreateDirectory(ca);
        var result = await GatewayProcess.RunAsync(["--listen", $"127.0.0.1:{GatewayProcess.FreePort()}", "--ca", ca]);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
            Assert.That(result.StdErr, Does.StartWith("error: "));
            Assert.That(result.StdErr, Does.Contain(ca));
            Assert.That(result.StdErr.Trim().Split('\n'), Has.Length.EqualTo(1), "one line, no stack trace");
        });
    }

    [Test]
    public async Task FailedUpstream_Answers502WithOnePlainTextLine()
    {
        // Bound and not listening: connections to it are refused at once.
        using var closed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)closed.LocalEndPoint!).Port;
        await using var gateway = await GatewayProcess.StartAsync("--upstream", $"http://127.0.0.1:{port}/");
        var result = await Curl.RunAsync("--proxy", gateway.ProxyUrl, "-i", "http://example.com/down");
        var (head, body) = Split(result.StdOut);
        Assert.Multiple(() =>
        {
            Assert.That(head, Does.StartWith("HTTP/1.1 502"));
            Assert.That(head, Does.Contain("Content-Type: text/plain; charset=utf-8"));
            Assert.That(body, Does.StartWith($"proxtunnel: upstream http://127.0.0.1:{port} failed"));
            Assert.That(body.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1));
        });
    }

    [TestCase("http")]
    [TestCase("https")]
    public async Task ProxyAlias_WhenGiven_ReachesAppUnprefixedWithAliasAsHost(string scheme)
    {
        await using var gateway = await GatewayProcess.StartAsync("--proxy-alias", "app.local", "--proxy-alias", "other.test");
        var root = await Curl.DownloadRootAsync(gateway);
        var alias = await Curl.GetJsonAsync("--proxy", gateway.ProxyUrl, "--cacert", root, $"{scheme}://app.local/page?q=1");
        var other = await Curl.GetJsonAsync("--proxy", gateway.ProxyUrl, "--cacert", root, $"{scheme}://other.test/");
        var ordinary = await Curl.GetJsonAsync("--proxy", gateway.ProxyUrl, "--cacert", root, $"{scheme}://example.com/page");
        Assert.Multiple(() =>
        {
            Assert.That((string?)alias["target"], Is.EqualTo("/page?q=1"));
            Assert.That((string?)alias["host"], Is.EqualTo("app.local"));
            Assert.That((string?)other["target"], Is.EqualTo("/"));
            Assert.That((string?)ordinary["target"], Is.EqualTo($"/prefix/{scheme}://example.com/page"));
        });
    }

    [Test]
    public async Task CaExport_WithoutFormat_WritesPem()
    {
        using var directory = new TestDirectory();
        var result = await GatewayProcess.RunAsync(["ca", "export", "--ca", directory.File("ca.pem")]);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.Zero, result.ToString());
            Assert.That(result.StdOut, Does.StartWith("-----BEGIN CERTIFICATE-----"));
            Assert.That(result.StdOut, Does.Not.Contain("PRIVATE KEY"));
        });
    }

    [Test]
    public async Task CaIssue_ToStdout_WarnsOnStderrThatItPrintsAPrivateKey()
    {
        using var directory = new TestDirectory();
        var result = await GatewayProcess.RunAsync(["ca", "issue", "example.com", "--ca", directory.File("ca.pem")]);
        var toFile = await GatewayProcess.RunAsync(["ca", "issue", "example.com", "--out", directory.File("leaf.pem"), "--ca", directory.File("ca.pem")]);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.Zero, result.ToString());
            Assert.That(result.StdOut, Does.Contain("PRIVATE KEY"));
            Assert.That(result.StdErr, Does.Contain("warning: printing a PRIVATE KEY on stdout"));
            Assert.That(toFile.StdErr, Does.Not.Contain("warning"));
        });
    }

    [Test]
    public async Task CaDirectory_WhenCreated_GetsGitignoreMatchingEverything()
    {
        using var directory = new TestDirectory();
        var result = await GatewayProcess.RunAsync(["ca", "init", "--ca", Path.Combine(directory.Path, "ca", "root.pem")]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(await File.ReadAllTextAsync(Path.Combine(directory.Path, "ca", ".gitignore")), Is.EqualTo("*\n"));
    }

    private static (string Head, string Body) Split(string response)
    {
        var end = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return end < 0 ? (response, "") : (response[..end], response[(end + 4)..]);
    }
}
