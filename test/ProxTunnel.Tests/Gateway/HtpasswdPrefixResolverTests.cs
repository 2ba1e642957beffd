using System.Net;
using ProxTunnel.Resolvers;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Gateway;

/// <summary>The library's <see cref="HtpasswdPrefixResolver"/> through the resolver API, with HttpClient as the proxy client.</summary>
public sealed class HtpasswdPrefixResolverTests
{
    private Htpasswd _file = null!;
    private string _users = null!;

    [SetUp]
    public async Task CreateUsersAsync()
    {
        _file = await Htpasswd.CreateAsync(("alice", "s3cret:with colon"));
        _users = _file.Path;
    }

    [TearDown]
    public void RemoveUsers() => _file?.Dispose();

    [TestCase("http")]
    [TestCase("https")]
    public async Task RightPassword_BecomesUserPrefix(string scheme)
    {
        await using var app = await TestApp.StartAsync(t => t.PrefixResolver = new HtpasswdPrefixResolver(_users, "archive"));
        using var client = app.CreateClient(new NetworkCredential("alice", "s3cret:with colon"));
        var first = TestApp.ParseJson(await client.GetStringAsync($"{scheme}://example.com/one"));
        var second = TestApp.ParseJson(await client.GetStringAsync($"{scheme}://example.com/two"));
        Assert.Multiple(() =>
        {
            Assert.That((string?)first["target"], Is.EqualTo($"/alice/{scheme}://example.com/one"));
            Assert.That((string?)second["target"], Is.EqualTo($"/alice/{scheme}://example.com/two"));
        });
    }

    [TestCase("alice", "wrong")]
    [TestCase("alice", "s3cret")]
    [TestCase("alice", "")]
    [TestCase("nobody", "s3cret:with colon")]
    public async Task WrongOrUnknown_Gets407WithRealm(string user, string password)
    {
        await using var app = await TestApp.StartAsync(t => t.PrefixResolver = new HtpasswdPrefixResolver(_users, "archive"));
        using var client = app.CreateClient(new NetworkCredential(user, password));
        using var response = await client.GetAsync("http://example.com/x");
        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ProxyAuthenticationRequired));
            Assert.That(response.Headers.ProxyAuthenticate.ToString(), Is.EqualTo("Basic realm=\"archive\""));
            Assert.That(app.SeenTargets, Is.Empty);
        });
    }

    [Test]
    public void Constructor_WhenLineIsNotBcrypt_ThrowsNamingFileAndLine()
    {
        File.AppendAllText(_users, "bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n");
        var ex = Assert.Throws<InvalidDataException>(() => _ = new HtpasswdPrefixResolver(_users));
        Assert.That(ex!.Message, Does.StartWith($"{_users}:2:"));
    }
}
