using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace ProxTunnel.Tests.Gateway;

/// <summary>Headless Chromium through the gateway, trusting the root through an NSS database under a temporary HOME.</summary>
[NonParallelizable]
public sealed class GatewayBrowserTests
{
    private const float TimeoutMs = HeadlessChromium.TimeoutMs;
    private GatewayProcess _gateway = null!;
    private string _home = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        if (!File.Exists(HeadlessChromium.Path) || !File.Exists("/usr/bin/certutil"))
        {
            Assert.Ignore("chromium or certutil is not installed (test/run-all.sh installs them)");
        }

        _gateway = await GatewayProcess.StartAsync();
        var root = await Curl.DownloadRootAsync(_gateway);
        _home = Path.Combine(_gateway.Directory, "home");
        var nssdb = Path.Combine(_home, ".pki", "nssdb");
        Directory.CreateDirectory(nssdb);
        var create = await ExternalProcess.RunAsync("/usr/bin/certutil", ["-d", "sql:" + nssdb, "-N", "--empty-password"], TimeSpan.FromSeconds(30));
        Assert.That(create.ExitCode, Is.Zero, create.ToString());
        var add = await ExternalProcess.RunAsync("/usr/bin/certutil", ["-d", "sql:" + nssdb, "-A", "-t", "C,,", "-n", "proxtunnel", "-i", root], TimeSpan.FromSeconds(30));
        Assert.That(add.ExitCode, Is.Zero, add.ToString());

        _playwright = await Playwright.CreateAsync();
        _browser = await HeadlessChromium.LaunchAsync(_playwright, _gateway.Port, _home);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }

        _playwright?.Dispose();
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
    }

    [TestCase("http://example.com/browser?x=1", "/prefix/http://example.com/browser?x=1")]
    [TestCase("https://example.com/browser?x=2", "/prefix/https://example.com/browser?x=2")]
    [TestCase("https://example.com:8443/port", "/prefix/https://example.com:8443/port")]
    public async Task Page_ThroughGateway_ShowsPrefixedTarget(string url, string target)
    {
        var page = await _browser.NewPageAsync();
        try
        {
            var response = await page.GotoAsync(url, new PageGotoOptions { Timeout = TimeoutMs });
            Assert.That(response, Is.Not.Null);
            Assert.That(response!.Status, Is.EqualTo(200));
            var json = JsonNode.Parse(await response.TextAsync())!;
            Assert.Multiple(() =>
            {
                Assert.That((string?)json["target"], Is.EqualTo(target));
                Assert.That((bool?)json["isHttps"], Is.EqualTo(url.StartsWith("https:", StringComparison.Ordinal)));
            });
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    [Test]
    public async Task LandingPage_WithRootInNssDb_ReportsTrusted()
    {
        var page = await _browser.NewPageAsync();
        try
        {
            await page.GotoAsync("http://proxtunnel/", new PageGotoOptions { Timeout = TimeoutMs });
            var trust = page.Locator("#trust[data-state=\"trusted\"]");
            await trust.WaitForAsync(new LocatorWaitForOptions { Timeout = TimeoutMs });
            Assert.That(await page.Locator("#trust").GetAttributeAsync("data-state"), Is.EqualTo("trusted"));
        }
        finally
        {
            await page.CloseAsync();
        }
    }
}
