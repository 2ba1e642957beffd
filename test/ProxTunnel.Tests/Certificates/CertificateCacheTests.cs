using System.Diagnostics.Metrics;
using ProxTunnel.Certificates;

namespace ProxTunnel.Tests.Certificates;

[TestFixture]
public sealed class CertificateCacheTests
{
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TestDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private CertificateAuthorityOptions Options(Action<CertificateAuthorityOptions>? configure = null)
    {
        var options = new CertificateAuthorityOptions { RootCertificatePath = _dir.File("root.pem") };
        configure?.Invoke(options);
        return options;
    }

    [TestCase(nameof(LeafKeyMode.Pool))]
    [TestCase(nameof(LeafKeyMode.ProcessKey))]
    [TestCase(nameof(LeafKeyMode.PerCertificate))]
    public async Task GetCertificateContext_With100ConcurrentCallersForNewHost_IssuesOnce(string keyMode)
    {
        using var ca = new ProxyCertificateAuthority(Options(o => o.LeafKeyMode = Enum.Parse<LeafKeyMode>(keyMode)));
        using var start = new ManualResetEventSlim();
        var tasks = Enumerable.Range(0, 100)
            .Select(_ => Task.Run(() =>
            {
                start.Wait();
                return ca.GetCertificateContext("concurrent.example.com");
            }))
            .ToArray();
        start.Set();
        var contexts = await Task.WhenAll(tasks);

        Assert.That(ca.IssuedCount, Is.EqualTo(1));
        Assert.That(contexts.Distinct().Count(), Is.EqualTo(1));
        Assert.That(contexts[0].TargetCertificate.HasPrivateKey, Is.True);
    }

    [Test]
    public void GetCertificateContext_WhenCached_ReportsIssuedAndHitMetrics()
    {
        long issued = 0;
        long hits = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "ProxTunnel" && instrument.Name.StartsWith("proxtunnel.certificates.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "proxtunnel.certificates.issued")
            {
                Interlocked.Add(ref issued, value);
            }
            else if (instrument.Name == "proxtunnel.certificates.cache_hits")
            {
                Interlocked.Add(ref hits, value);
            }
        });
        listener.Start();

        using var ca = new ProxyCertificateAuthority(Options());
        var first = ca.GetCertificateContext("metric.example.com");
        var second = ca.GetCertificateContext("metric.example.com");

        Assert.That(second, Is.SameAs(first));
        Assert.That(Interlocked.Read(ref issued), Is.GreaterThanOrEqualTo(1));
        Assert.That(Interlocked.Read(ref hits), Is.GreaterThanOrEqualTo(1));
    }

    [Test]
    public void GetHostCertificate_WhenCacheFull_EvictsLeastRecentlyUsed()
    {
        using var ca = new ProxyCertificateAuthority(Options(o => o.CacheSize = 2));
        var a = ca.GetHostCertificate("a.example.com");
        ca.GetHostCertificate("b.example.com");
        Assert.That(ca.GetHostCertificate("a.example.com"), Is.SameAs(a));
        ca.GetHostCertificate("c.example.com");

        Assert.That(ca.CachedCount, Is.EqualTo(2));
        Assert.That(ca.IssuedCount, Is.EqualTo(3));
        Assert.That(ca.GetHostCertificate("a.example.com"), Is.SameAs(a), "a was used more recently than b");
        Assert.That(ca.IssuedCount, Is.EqualTo(3));
        ca.GetHostCertificate("b.example.com");
        Assert.That(ca.IssuedCount, Is.EqualTo(4), "b was evicted");
    }

    [Test]
    public void GetHostCertificate_WhenRenewalDue_IssuesNewCertificate()
    {
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var options = Options();
        using var ca = new ProxyCertificateAuthority(options, timeProvider: time);
        var first = ca.GetHostCertificate("renew.example.com");
        var firstContext = ca.GetCertificateContext("renew.example.com");

        time.Advance(options.LeafLifetime - options.RenewBefore - TimeSpan.FromMinutes(1));
        Assert.That(ca.GetHostCertificate("renew.example.com"), Is.SameAs(first), "not yet due");

        time.Advance(TimeSpan.FromMinutes(2));
        var renewed = ca.GetHostCertificate("renew.example.com");

        Assert.That(renewed.SerialNumber, Is.Not.EqualTo(first.SerialNumber));
        Assert.That(ca.GetCertificateContext("renew.example.com"), Is.Not.SameAs(firstContext));
        Assert.That(ca.IssuedCount, Is.EqualTo(2));
        Assert.That(renewed.NotAfter, Is.GreaterThan(first.NotAfter));
        CertificateAssert.ChainBuilds(ca.RootCertificate, renewed, time.GetUtcNow().UtcDateTime);
    }

    [Test]
    public void Constructor_WithCacheDirectory_ReloadsCertificatesAfterRestart()
    {
        var cacheDir = _dir.File("cache");
        var options = Options(o => o.CertificateCacheDirectory = cacheDir);
        string serial;
        using (var first = new ProxyCertificateAuthority(options))
        {
            serial = first.GetHostCertificate("disk.example.com").SerialNumber;
            first.GetHostCertificate("[::1]");
        }

        var files = Directory.GetFiles(cacheDir, "*.pem");
        Assert.That(Directory.GetFiles(cacheDir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "disk.example.com.pem", "%3A%3A1.pem", ".gitignore" }));
        foreach (var file in files)
        {
            Assert.That(OperatingSystem.IsWindows() || File.GetUnixFileMode(file) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), Is.True, "mode 0600");
        }

        using var second = new ProxyCertificateAuthority(options);
        var reloaded = second.GetHostCertificate("disk.example.com");
        Assert.That(reloaded.SerialNumber, Is.EqualTo(serial));
        Assert.That(reloaded.HasPrivateKey, Is.True);
        Assert.That(second.IssuedCount, Is.Zero);
        CertificateAssert.ChainBuilds(second.RootCertificate, reloaded);
    }

    [Test]
    public void Constructor_WithCacheDirectoryFromAnotherRoot_IgnoresStaleFiles()
    {
        var cacheDir = _dir.File("cache");
        string serial;
        using (var first = new ProxyCertificateAuthority(Options(o => o.CertificateCacheDirectory = cacheDir)))
        {
            serial = first.GetHostCertificate("disk.example.com").SerialNumber;
        }

        using var other = new ProxyCertificateAuthority(Options(o =>
        {
            o.RootCertificatePath = _dir.File("other-root.pem");
            o.CertificateCacheDirectory = cacheDir;
        }));
        var leaf = other.GetHostCertificate("disk.example.com");
        Assert.That(leaf.SerialNumber, Is.Not.EqualTo(serial));
        Assert.That(other.IssuedCount, Is.EqualTo(1));
        CertificateAssert.ChainBuilds(other.RootCertificate, leaf);
    }

    [Test]
    public void Constructor_WithCacheDirectoryNearExpiry_IssuesFreshCertificate()
    {
        var cacheDir = _dir.File("cache");
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var options = Options(o => o.CertificateCacheDirectory = cacheDir);
        using (var first = new ProxyCertificateAuthority(options, timeProvider: time))
        {
            first.GetHostCertificate("disk.example.com");
        }

        time.Advance(options.LeafLifetime);
        using var second = new ProxyCertificateAuthority(options, timeProvider: time);
        second.GetHostCertificate("disk.example.com");
        Assert.That(second.IssuedCount, Is.EqualTo(1));
    }

    [Test]
    public void GetHostCertificate_WhenCacheDirectoryUnwritable_StillIssues()
    {
        var blocker = _dir.File("not-a-directory");
        File.WriteAllText(blocker, "x");
        using var ca = new ProxyCertificateAuthority(Options(o => o.CertificateCacheDirectory = Path.Combine(blocker, "cache")));

        var leaf = ca.GetHostCertificate("memory.example.com");

        Assert.That(leaf.HasPrivateKey, Is.True);
        Assert.That(ca.GetHostCertificate("memory.example.com"), Is.SameAs(leaf));
        Assert.That(ca.GetHostCertificate("other.example.com"), Is.Not.Null);
    }
}
