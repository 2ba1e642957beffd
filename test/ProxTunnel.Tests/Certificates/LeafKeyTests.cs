using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ProxTunnel.Certificates;

namespace ProxTunnel.Tests.Certificates;

[TestFixture]
public sealed class LeafKeyTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TestDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private ProxyCertificateAuthority Create(LeafKeyMode mode, string? cacheDirectory = null) => new(new CertificateAuthorityOptions
    {
        RootCertificatePath = _dir.File("root.pem"),
        LeafKeyMode = mode,
        CertificateCacheDirectory = cacheDirectory,
    });

    private static byte[] PublicKeyOf(X509Certificate2 certificate) => certificate.PublicKey.ExportSubjectPublicKeyInfo();

    [Test]
    public void Take_WhenPoolIsEmpty_GeneratesKeysInlineAndRefillsInTheBackground()
    {
        using var pool = new LeafKeyPool(CertificateKeyAlgorithm.EcdsaP256, capacity: 4);
        var keys = Enumerable.Range(0, 12).Select(_ => pool.Take()).ToArray();
        try
        {
            // More than the pool holds: every caller still gets a key of its own, none waits for the refill.
            var distinct = keys.Select(k => Convert.ToHexString(k.Algorithm.ExportSubjectPublicKeyInfo())).Distinct().Count();
            Assert.That(distinct, Is.EqualTo(keys.Length));
            Assert.That(keys.All(k => !k.IsShared), Is.True);
            Assert.That(SpinWait.SpinUntil(() => pool.Count == 4, Bound), Is.True, "the pool refills to its capacity");
        }
        finally
        {
            foreach (var key in keys)
            {
                key.Dispose();
            }
        }
    }

    [Test]
    public void Dispose_WhilePoolIsRefilling_LeavesNoKeysBehind()
    {
        var pool = new LeafKeyPool(CertificateKeyAlgorithm.EcdsaP256, capacity: 64);
        pool.Dispose();

        Assert.That(SpinWait.SpinUntil(() => pool.Count == 0, Bound), Is.True);
        Assert.Throws<ObjectDisposedException>(() => pool.Take());
    }

    [TestCase(nameof(LeafKeyMode.Pool))]
    [TestCase(nameof(LeafKeyMode.PerCertificate))]
    public void GetHostCertificate_InPerHostKeyModes_GivesEveryHostItsOwnKey(string mode)
    {
        using var ca = Create(Enum.Parse<LeafKeyMode>(mode));
        var first = ca.GetHostCertificate("one.example.com");
        var second = ca.GetHostCertificate("two.example.com");

        Assert.That(PublicKeyOf(second), Is.Not.EqualTo(PublicKeyOf(first)));
        Assert.That(first.HasPrivateKey && second.HasPrivateKey, Is.True);
    }

    [Test]
    public void GetHostCertificate_InProcessKeyMode_SharesOneKeyAcrossHosts()
    {
        using var ca = Create(LeafKeyMode.ProcessKey);
        var first = ca.GetHostCertificate("one.example.com");
        var second = ca.GetHostCertificate("two.example.com");

        Assert.That(PublicKeyOf(second), Is.EqualTo(PublicKeyOf(first)));
        using var key = second.GetECDsaPrivateKey();
        Assert.That(key, Is.Not.Null);
    }

    [Test]
    public void IssueCertificatePem_InProcessKeyMode_ExportsAKeyOfItsOwn()
    {
        using var ca = Create(LeafKeyMode.ProcessKey);
        var cached = ca.GetHostCertificate("one.example.com");

        var exported = X509Certificate2.CreateFromPem(ca.IssueCertificatePem("one.example.com", wildcard: false));

        Assert.That(PublicKeyOf(exported), Is.Not.EqualTo(PublicKeyOf(cached)));
    }

    [Test]
    public void Constructor_WithCacheDirectoryInProcessKeyMode_WritesADistinctKeyPerHost()
    {
        var cacheDirectory = _dir.File("certs");
        using (var ca = Create(LeafKeyMode.ProcessKey, cacheDirectory))
        {
            ca.GetHostCertificate("one.example.com");
            ca.GetHostCertificate("two.example.com");
        }

        var keys = Directory.GetFiles(cacheDirectory, "*.pem")
            .Select(path => X509Certificate2.CreateFromPemFile(path))
            .Select(certificate => Convert.ToHexString(PublicKeyOf(certificate)))
            .ToArray();
        Assert.That(keys, Has.Length.EqualTo(2));
        Assert.That(keys.Distinct().Count(), Is.EqualTo(2));
    }

    [Test]
    public void Create_OnLinux_MakesKeysThatCertificatesAttachByReference()
    {
        using var key = CertificateKeys.Create(CertificateKeyAlgorithm.EcdsaP256);

        // The OpenSSL type is what lets CopyWithPrivateKey skip a private-key export and re-import.
        Assert.That(key, OperatingSystem.IsLinux() ? Is.InstanceOf<ECDsaOpenSsl>() : Is.InstanceOf<ECDsa>());
    }
}
