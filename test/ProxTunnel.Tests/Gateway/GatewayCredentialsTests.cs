using System.Text.Json.Nodes;

namespace ProxTunnel.Tests.Gateway;

/// <summary><c>--auth --auth-users FILE</c>: Basic proxy credentials checked against an htpasswd file with bcrypt hashes.</summary>
[NonParallelizable]
public sealed class GatewayCredentialsTests
{
    private Htpasswd _file = null!;
    private string _users = null!;

    [SetUp]
    public async Task CreateUsersAsync()
    {
        _file = await Htpasswd.CreateAsync(("alice", "secret"), ("bob", "hunter2"));
        _users = _file.Path;
    }

    [TearDown]
    public void RemoveUsers() => _file?.Dispose();

    [Test]
    public async Task RightPassword_WithAuthUsers_ReachesAppWithUserPrefix()
    {
        await using var gateway = await GatewayProcess.StartAsync("--auth", "--auth-users", _users);
        var root = await Curl.DownloadRootAsync(gateway);
        var http = await Curl.GetJsonAsync("--proxy", gateway.ProxyUrl, "--proxy-user", "alice:secret", "http://example.com/x");
        var https = await Curl.GetJsonAsync("--proxy", gateway.ProxyUrl, "--proxy-user", "bob:hunter2", "--cacert", root, "https://example.com/y");
        Assert.Multiple(() =>
        {
            Assert.That((string?)http["target"], Is.EqualTo("/alice/http://example.com/x"));
            Assert.That((string?)https["target"], Is.EqualTo("/bob/https://example.com/y"));
            Assert.That(gateway.StdOut, Does.Contain($"passwords: checked against {_users}"));
        });
    }

    [TestCase("alice:wrong", "http://example.com/x")]
    [TestCase("alice:", "http://example.com/x")]
    [TestCase("mallory:secret", "http://example.com/x")]
    [TestCase("alice:hunter2", "http://example.com/x")]
    [TestCase("alice:wrong", "https://example.com/x")]
    [TestCase("mallory:secret", "https://example.com/x")]
    public async Task WrongOrUnknownCredentials_WithAuthUsers_Get407(string credentials, string url)
    {
        await using var gateway = await GatewayProcess.StartAsync("--auth", "--auth-users", _users);
        // -v shows the CONNECT response too: for https:// the 407 answers the CONNECT and curl reports it as an error.
        var result = await Curl.RunAsync("--proxy", gateway.ProxyUrl, "--proxy-user", credentials, "-v", "-o", "/dev/null", "-w", "%{http_code} %{http_connect}", url);
        Assert.Multiple(() =>
        {
            Assert.That(result.StdErr, Does.Contain("< HTTP/1.1 407"), result.ToString());
            Assert.That(result.StdErr, Does.Contain("Proxy-Authenticate: Basic realm=\"proxtunnel\""));
            Assert.That(result.StdErr, Does.Not.Contain("< HTTP/1.1 200"));
        });
    }

    [Test]
    public async Task FileChanged_WithAuthUsers_NewPasswordWorksAndOldOneNoLonger()
    {
        await using var gateway = await GatewayProcess.StartAsync("--auth", "--auth-users", _users);
        var before = await Curl.GetJsonAsync("--proxy", gateway.ProxyUrl, "--proxy-user", "alice:secret", "http://example.com/before");
        await _file.SetAsync("alice", "changed");
        await _file.SetAsync("carol", "new-user");
        var changed = await Curl.GetJsonAsync("--proxy", gateway.ProxyUrl, "--proxy-user", "alice:changed", "http://example.com/after");
        var added = await Curl.GetJsonAsync("--proxy", gateway.ProxyUrl, "--proxy-user", "carol:new-user", "http://example.com/added");
        var old = await Curl.RunAsync("--proxy", gateway.ProxyUrl, "--proxy-user", "alice:secret", "-o", "/dev/null", "-w", "%{http_code}", "http://example.com/old");
        Assert.Multiple(() =>
        {
            Assert.That((string?)before["target"], Is.EqualTo("/alice/http://example.com/before"));
            Assert.That((string?)changed["target"], Is.EqualTo("/alice/http://example.com/after"));
            Assert.That((string?)added["target"], Is.EqualTo("/carol/http://example.com/added"));
            Assert.That(old.StdOut, Is.EqualTo("407"));
        });
    }

    [Test]
    public async Task AuthUsers_WithoutAuth_IsUsageError()
    {
        var result = await GatewayProcess.RunAsync(["--listen", $"127.0.0.1:{GatewayProcess.FreePort()}", "--auth-users", _users]);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.StdErr, Does.Contain("--auth-users needs --auth"));
        });
    }

    [Test]
    public async Task AuthUsers_WhenNotBcrypt_ExitsOneNamingFileAndLine()
    {
        await File.AppendAllTextAsync(_users, "dave:$apr1$abc$0123456789abcdefghijkl\n");
        var result = await GatewayProcess.RunAsync(["--listen", $"127.0.0.1:{GatewayProcess.FreePort()}", "--ca", _users + ".ca.pem",
            "--auth", "--auth-users", _users]);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
            Assert.That(result.StdErr, Does.StartWith($"error: --auth-users: {_users}:3:"));
            Assert.That(result.StdErr.Trim().Split('\n'), Has.Length.EqualTo(1), "one line, no stack trace");
        });
    }

    [Test]
    public async Task AuthWithoutUsers_Banner_SaysNoPasswordIsChecked()
    {
        await using var gateway = await GatewayProcess.StartAsync("--auth");
        var json = await Curl.GetJsonAsync("--proxy", gateway.ProxyUrl, "--proxy-user", "alice:anything", "http://example.com/x");
        Assert.Multiple(() =>
        {
            Assert.That(gateway.StdOut, Does.Contain("warning: --auth checks NO password"));
            Assert.That((string?)json["target"], Is.EqualTo("/alice/http://example.com/x"));
        });
    }

    [Test]
    public async Task Help_WhenAsked_ShowsRealmOptionalAndThatAuthChecksNoPassword()
    {
        var result = await GatewayProcess.RunAsync(["--help"]);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.Zero, result.ToString());
            Assert.That(result.StdOut, Does.Contain("--auth [REALM]"));
            Assert.That(result.StdOut, Does.Contain("NO PASSWORD IS CHECKED"));
            Assert.That(result.StdOut, Does.Contain("--auth-users <FILE>"));
            Assert.That(result.StdOut, Does.Contain("--proxy-alias <NAME>"));
            Assert.That(result.StdOut, Does.Contain("--har <FILE>"));
        });
    }
}
