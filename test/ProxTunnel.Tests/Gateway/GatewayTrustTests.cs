using System.Text.Json.Nodes;
using Microsoft.Playwright;
using ProxTunnel.Tests.Certificates;

namespace ProxTunnel.Tests.Gateway;

/// <summary><c>proxtunnel ca trust</c> / <c>ca untrust</c> against NSS databases under a temporary HOME, and Chromium using them.</summary>
[NonParallelizable]
public sealed class GatewayTrustTests
{
    private const string Certutil = "/usr/bin/certutil";
    private TestDirectory _directory = null!;
    private string _home = null!;
    private string _ca = null!;

    [SetUp]
    public void CreateHome()
    {
        if (!File.Exists(Certutil))
        {
            Assert.Ignore("certutil is not installed (apt-get install libnss3-tools)");
        }

        _directory = new TestDirectory();
        _home = _directory.File("home");
        _ca = _directory.File("ca.pem");
        Directory.CreateDirectory(_home);
    }

    [TearDown]
    public void RemoveHome() => _directory?.Dispose();

    [Test]
    public async Task TrustThenUntrust_WithTemporaryHome_AddsWithCTrustEverywhereAndRemovesOnlyThat()
    {
        var chromium = Path.Combine(_home, ".pki", "nssdb");
        var shared = Path.Combine(_home, ".local", "share", "pki", "nssdb");
        var firefox = Path.Combine(_home, ".mozilla", "firefox", "x1y2.default-release");
        var stray = Path.Combine(_home, ".mozilla", "firefox", "unlisted");
        foreach (var database in new[] { shared, firefox, stray })
        {
            Directory.CreateDirectory(database);
            await RunCertutilAsync("-d", "sql:" + database, "-N", "--empty-password");
        }

        await File.WriteAllTextAsync(Path.Combine(_home, ".mozilla", "firefox", "profiles.ini"),
            "[Profile0]\nName=default-release\nIsRelative=1\nPath=x1y2.default-release\nDefault=1\n");
        // A root the user trusted by hand must survive untrust.
        await TrustAnotherRootAsync(shared, "hand-added");

        var trust = await ProxtunnelAsync("ca", "trust", "--ca", _ca);
        Assert.That(trust.ExitCode, Is.Zero, trust.ToString());
        Assert.That(trust.StdOut, Does.Contain($"trusted in {chromium} (database created)"));
        foreach (var database in new[] { chromium, shared, firefox, stray })
        {
            Assert.That(await ListAsync(database), Does.Match(@"ProxTunnel root [0-9A-F]{16}\s+C,,"), database);
        }

        var untrust = await ProxtunnelAsync("ca", "untrust", "--ca", _ca);
        Assert.That(untrust.ExitCode, Is.Zero, untrust.ToString());
        foreach (var database in new[] { shared, firefox, stray })
        {
            Assert.That(await ListAsync(database), Does.Not.Contain("ProxTunnel root"), database);
        }

        Assert.That(await ListAsync(shared), Does.Match(@"hand-added\s+C,,"));

        // Exactly what trust added goes: the database it created, with ~/.pki, which it made for it.
        Assert.That(untrust.StdOut, Does.Contain($"removed from {chromium}; the database `ca trust` created held nothing else and was removed"));
        Assert.That(Directory.Exists(Path.Combine(_home, ".pki")), Is.False);
    }

    [Test]
    public async Task Untrust_CreatedDatabaseHoldingAnotherRoot_KeepsItWithThatRoot()
    {
        var chromium = Path.Combine(_home, ".pki", "nssdb");
        var trust = await ProxtunnelAsync("ca", "trust", "--ca", _ca);
        Assert.That(trust.StdOut, Does.Contain($"trusted in {chromium} (database created)"), trust.ToString());
        await TrustAnotherRootAsync(chromium, "added-later");

        var untrust = await ProxtunnelAsync("ca", "untrust", "--ca", _ca);
        Assert.That(untrust.ExitCode, Is.Zero, untrust.ToString());
        Assert.That(untrust.StdOut, Does.Contain($"removed from {chromium}; the database `ca trust` created stays: it holds other entries now"));
        var listed = await ListAsync(chromium);
        Assert.That(listed, Does.Match(@"added-later\s+C,,"));
        Assert.That(listed, Does.Not.Contain("ProxTunnel root"));
    }

    [Test]
    public async Task Untrust_DatabaseCreatedInAnExistingDirectory_RemovesTheFilesAndKeepsTheDirectory()
    {
        var chromium = Path.Combine(_home, ".pki", "nssdb");
        Directory.CreateDirectory(chromium);
        Assert.That((await ProxtunnelAsync("ca", "trust", "--ca", _ca)).ExitCode, Is.Zero);
        Assert.That(File.Exists(Path.Combine(chromium, "cert9.db")), Is.True);

        var untrust = await ProxtunnelAsync("ca", "untrust", "--ca", _ca);
        Assert.That(untrust.ExitCode, Is.Zero, untrust.ToString());
        Assert.That(Directory.Exists(chromium), Is.True, "the directory was there before trust");
        Assert.That(Directory.EnumerateFileSystemEntries(chromium), Is.Empty);
    }

    [Test]
    public async Task TrustSystem_WithInjectedStore_WritesCrtRunsUpdateAndUntrustRemovesIt()
    {
        var store = _directory.File("ca-certificates");
        var marker = _directory.File("updated");
        var update = _directory.File("update.sh");
        await File.WriteAllTextAsync(update, $"#!/bin/sh\necho run >> {marker}\n");
        File.SetUnixFileMode(update, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var environment = new Dictionary<string, string> { ["PROXTUNNEL_SYSTEM_CA_DIR"] = store, ["PROXTUNNEL_UPDATE_CA_COMMAND"] = update };

        var trust = await ProxtunnelAsync(environment, "ca", "trust", "--system", "--ca", _ca);
        Assert.That(trust.ExitCode, Is.Zero, trust.ToString());
        var added = Directory.GetFiles(store, "proxtunnel-*.crt");
        Assert.That(added, Has.Length.EqualTo(1));
        using var inStore = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(added[0]));
        var exported = await ProxtunnelAsync("ca", "export", "--ca", _ca);
        using var root = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(exported.StdOut);
        Assert.That(inStore.RawData, Is.EqualTo(root.RawData));

        var untrust = await ProxtunnelAsync(environment, "ca", "untrust", "--system", "--ca", _ca);
        Assert.Multiple(() =>
        {
            Assert.That(untrust.ExitCode, Is.Zero, untrust.ToString());
            Assert.That(Directory.GetFiles(store), Is.Empty);
            Assert.That(File.ReadAllLines(marker), Has.Length.EqualTo(2), "update-ca-certificates ran after adding and after removing");
        });
    }

    [Test]
    public async Task Trust_ThenChromiumWithThatHome_ReachesHttpsWithoutCertificateFlags()
    {
        if (!File.Exists(HeadlessChromium.Path))
        {
            Assert.Ignore("chromium is not installed (test/run-all.sh installs it)");
        }

        await using var gateway = await GatewayProcess.StartAsync();
        var trust = await ProxtunnelAsync("ca", "trust", "--ca", gateway.CaPath);
        Assert.That(trust.ExitCode, Is.Zero, trust.ToString());

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await HeadlessChromium.LaunchAsync(playwright, gateway.Port, _home);
        var page = await browser.NewPageAsync();
        var response = await page.GotoAsync("https://example.com/", new PageGotoOptions { Timeout = HeadlessChromium.TimeoutMs });
        Assert.That(response, Is.Not.Null);
        var json = JsonNode.Parse(await response!.TextAsync())!;
        Assert.Multiple(() =>
        {
            Assert.That(response.Status, Is.EqualTo(200));
            Assert.That((string?)json["target"], Is.EqualTo("/prefix/https://example.com/"));
            Assert.That((bool?)json["isHttps"], Is.True);
        });
    }

    private Task<ExternalProcess.Result> ProxtunnelAsync(params string[] arguments) => ProxtunnelAsync(new Dictionary<string, string>(), arguments);

    private Task<ExternalProcess.Result> ProxtunnelAsync(Dictionary<string, string> environment, params string[] arguments)
    {
        environment["HOME"] = _home;
        return ExternalProcess.RunAsync("dotnet", [GatewayProcess.DllPath, .. arguments], TimeSpan.FromSeconds(60), environment);
    }

    /// <summary>Adds a root of another CA file to <paramref name="database"/> by hand, as a user would, under <paramref name="nickname"/>.</summary>
    private async Task TrustAnotherRootAsync(string database, string nickname)
    {
        var other = _directory.File("other.pem");
        Assert.That((await ProxtunnelAsync("ca", "export", "--ca", _directory.File("other-ca.pem"), "--out", other)).ExitCode, Is.Zero);
        await RunCertutilAsync("-d", "sql:" + database, "-A", "-t", "C,,", "-n", nickname, "-i", other);
    }

    private static async Task<string> ListAsync(string database)
        => (await RunCertutilAsync("-d", "sql:" + database, "-L")).StdOut;

    private static async Task<ExternalProcess.Result> RunCertutilAsync(params string[] arguments)
    {
        var result = await ExternalProcess.RunAsync(Certutil, arguments, TimeSpan.FromSeconds(30));
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        return result;
    }
}
