using ProxTunnel.Certificates;

namespace ProxTunnel.Tests.Certificates;

[TestFixture]
public sealed class HandshakeLookupTests
{
    private TestDirectory _dir = null!;
    private ProxyCertificateAuthority _ca = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = new TestDirectory();
        _ca = new ProxyCertificateAuthority(new CertificateAuthorityOptions { RootCertificatePath = _dir.File("root.pem") });
    }

    [TearDown]
    public void TearDown()
    {
        _ca.Dispose();
        _dir.Dispose();
    }

    [TestCase(null)]
    [TestCase("")]
    [TestCase("not a host")]
    public async Task FindCertificateContextAsync_ForNoHostName_ReturnsNull(string? host)
    {
        var context = await _ca.FindCertificateContextAsync(host, CancellationToken.None);

        Assert.That(context, Is.Null);
    }

    [Test]
    public async Task FindCertificateContextAsync_WhenCached_CompletesAtOnceWithTheCachedContext()
    {
        var cached = _ca.GetCertificateContext("cached.example.com");

        var lookup = _ca.FindCertificateContextAsync("cached.example.com", CancellationToken.None);

        Assert.That(lookup.IsCompletedSuccessfully, Is.True);
        Assert.That(await lookup, Is.SameAs(cached));
    }

    [Test]
    public async Task FindCertificateContextAsync_With100ConcurrentCallersForNewHosts_IssuesOncePerHost()
    {
        var lookups = Enumerable.Range(0, 100)
            .Select(i => Task.Run(async () => await _ca.FindCertificateContextAsync($"h{i % 10}.burst.example", CancellationToken.None)))
            .ToArray();
        var contexts = await Task.WhenAll(lookups);

        Assert.That(contexts, Has.None.Null);
        Assert.That(contexts.Distinct().Count(), Is.EqualTo(10));
        Assert.That(_ca.IssuedCount, Is.EqualTo(10));
    }

    [Test]
    public void FindCertificateContextAsync_ForANewHostWhenAlreadyCanceled_ThrowsAndIssuesNothing()
    {
        using var canceled = new CancellationTokenSource();
        canceled.Cancel();

        Assert.That(async () => await _ca.FindCertificateContextAsync("new.example.com", canceled.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(_ca.IssuedCount, Is.Zero);
    }
}
