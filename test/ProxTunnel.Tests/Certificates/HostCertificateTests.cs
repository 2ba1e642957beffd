using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ProxTunnel.Certificates;

namespace ProxTunnel.Tests.Certificates;

[TestFixture]
public sealed class HostCertificateTests
{
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TestDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private ProxyCertificateAuthority CreateAuthority(Action<CertificateAuthorityOptions>? configure = null, TimeProvider? time = null)
    {
        var options = new CertificateAuthorityOptions { RootCertificatePath = _dir.File("root.pem") };
        configure?.Invoke(options);
        return new ProxyCertificateAuthority(options, timeProvider: time);
    }

    [Test]
    public void GetHostCertificate_ForDnsName_HasFullServerProfile()
    {
        using var ca = CreateAuthority();
        var before = DateTimeOffset.UtcNow;
        var leaf = ca.GetHostCertificate("www.example.com");

        Assert.That(leaf.HasPrivateKey, Is.True);
        Assert.That(leaf.Subject, Is.EqualTo("CN=www.example.com"));
        Assert.That(leaf.IssuerName.RawData, Is.EqualTo(ca.RootCertificate.SubjectName.RawData));
        Assert.That(CertificateAssert.DnsNames(leaf), Is.EqualTo(new[] { "www.example.com" }));
        Assert.That(CertificateAssert.Extension<X509SubjectAlternativeNameExtension>(leaf).EnumerateIPAddresses(), Is.Empty);

        var eku = CertificateAssert.Extension<X509EnhancedKeyUsageExtension>(leaf);
        Assert.That(eku.EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value), Is.EqualTo(new[] { CertificateAssert.ServerAuthOid }));
        var ku = CertificateAssert.Extension<X509KeyUsageExtension>(leaf);
        Assert.That(ku.Critical, Is.True);
        Assert.That(ku.KeyUsages, Is.EqualTo(X509KeyUsageFlags.DigitalSignature));
        var bc = CertificateAssert.Extension<X509BasicConstraintsExtension>(leaf);
        Assert.That(bc.CertificateAuthority, Is.False);

        var rootSki = CertificateAssert.SubjectKeyId(ca.RootCertificate);
        var aki = CertificateAssert.Extension<X509AuthorityKeyIdentifierExtension>(leaf);
        Assert.That(aki.KeyIdentifier!.Value.ToArray(), Is.EqualTo(rootSki));
        var ski = CertificateAssert.SubjectKeyId(leaf);
        Assert.That(ski, Is.Not.Empty);
        Assert.That(ski, Is.Not.EqualTo(rootSki));

        var serial = leaf.SerialNumberBytes.ToArray();
        Assert.That(serial, Has.Length.EqualTo(16));
        Assert.That(serial[0], Is.InRange(1, 0x7F));

        var notBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime());
        var notAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime());
        Assert.That(notBefore, Is.EqualTo(before.AddDays(-1)).Within(TimeSpan.FromMinutes(1)));
        Assert.That(notAfter, Is.EqualTo(before.AddDays(45)).Within(TimeSpan.FromMinutes(1)));
        Assert.That((notAfter - notBefore).TotalDays, Is.LessThanOrEqualTo(199));

        Assert.That(leaf.SignatureAlgorithm.Value, Is.EqualTo("1.2.840.10045.4.3.2"));
        Assert.That(leaf.GetKeyAlgorithm(), Is.EqualTo("1.2.840.10045.2.1"));
        CertificateAssert.ChainBuilds(ca.RootCertificate, leaf);
        OpenSsl.Verify(_dir.Path, ca.RootCertificate.RawData, leaf.RawData);
    }

    [Test]
    public void GetHostCertificate_TwoHosts_HaveDistinctSerials()
    {
        using var ca = CreateAuthority();
        var a = ca.GetHostCertificate("a.example.com");
        var b = ca.GetHostCertificate("b.example.com");
        Assert.That(a.SerialNumber, Is.Not.EqualTo(b.SerialNumber));
        Assert.That(CertificateAssert.SubjectKeyId(a), Is.Not.EqualTo(CertificateAssert.SubjectKeyId(b)));
    }

    [Test]
    public void GetHostCertificate_WithRsaRootAndRsaLeaf_SignsSha256RsaWithKeyEncipherment()
    {
        using var ca = CreateAuthority(o =>
        {
            o.RootKeyAlgorithm = CertificateKeyAlgorithm.Rsa2048;
            o.LeafKeyAlgorithm = CertificateKeyAlgorithm.Rsa2048;
        });
        var leaf = ca.GetHostCertificate("rsa.example.com");

        Assert.That(leaf.SignatureAlgorithm.Value, Is.EqualTo("1.2.840.113549.1.1.11"));
        Assert.That(leaf.GetRSAPublicKey()!.KeySize, Is.EqualTo(2048));
        Assert.That(CertificateAssert.Extension<X509KeyUsageExtension>(leaf).KeyUsages,
            Is.EqualTo(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment));
        CertificateAssert.ChainBuilds(ca.RootCertificate, leaf);
        OpenSsl.Verify(_dir.Path, ca.RootCertificate.RawData, leaf.RawData);
    }

    [Test]
    public void GetHostCertificate_WithRsaRootAndEcLeaf_Verifies()
    {
        using var ca = CreateAuthority(o => o.RootKeyAlgorithm = CertificateKeyAlgorithm.Rsa2048);
        var leaf = ca.GetHostCertificate("mixed.example.com");
        Assert.That(leaf.SignatureAlgorithm.Value, Is.EqualTo("1.2.840.113549.1.1.11"));
        Assert.That(leaf.GetKeyAlgorithm(), Is.EqualTo("1.2.840.10045.2.1"));
        CertificateAssert.ChainBuilds(ca.RootCertificate, leaf);
        OpenSsl.Verify(_dir.Path, ca.RootCertificate.RawData, leaf.RawData);
    }

    [TestCase("127.0.0.1", "127.0.0.1")]
    [TestCase("10.1.2.3", "10.1.2.3")]
    [TestCase("::1", "::1")]
    [TestCase("[::1]", "::1")]
    [TestCase("[2001:DB8::0:1]", "2001:db8::1")]
    public void GetHostCertificate_ForIpLiteral_HasIpAddressSan(string host, string expected)
    {
        using var ca = CreateAuthority();
        var leaf = ca.GetHostCertificate(host);

        var san = CertificateAssert.Extension<X509SubjectAlternativeNameExtension>(leaf);
        Assert.That(san.EnumerateIPAddresses().ToArray(), Is.EqualTo(new[] { IPAddress.Parse(expected) }));
        Assert.That(san.EnumerateDnsNames(), Is.Empty);
        CertificateAssert.ChainBuilds(ca.RootCertificate, leaf);
        OpenSsl.Verify(_dir.Path, ca.RootCertificate.RawData, leaf.RawData);
        var leafPath = _dir.File("ip-leaf.pem");
        File.WriteAllText(leafPath, PemEncoding.WriteString("CERTIFICATE", leaf.RawData));
        OpenSsl.MustSucceed(_dir.Path, "verify", "-CAfile", _dir.File("verify-root.pem"), "-verify_ip", expected, leafPath);
    }

    [Test]
    public void GetHostCertificate_ForIdn_UsesPunycode()
    {
        using var ca = CreateAuthority();
        var leaf = ca.GetHostCertificate("Bücher.Example.");
        Assert.That(CertificateAssert.DnsNames(leaf), Is.EqualTo(new[] { "xn--bcher-kva.example" }));
        Assert.That(leaf.GetNameInfo(X509NameType.SimpleName, false), Is.EqualTo("xn--bcher-kva.example"));
        Assert.That(ca.GetHostCertificate("xn--bcher-kva.example"), Is.SameAs(leaf), "both spellings share the cache entry");
        OpenSsl.Verify(_dir.Path, ca.RootCertificate.RawData, leaf.RawData);
    }

    [Test]
    public void GetHostCertificate_WithUpperCaseAndTrailingDot_NormalizesName()
    {
        using var ca = CreateAuthority();
        var leaf = ca.GetHostCertificate("WWW.Example.COM.");
        Assert.That(CertificateAssert.DnsNames(leaf), Is.EqualTo(new[] { "www.example.com" }));
        Assert.That(ca.GetHostCertificate("www.example.com"), Is.SameAs(leaf));
        Assert.That(ca.IssuedCount, Is.EqualTo(1));
    }

    [Test]
    public void GetHostCertificate_WhenNameLongerThan64_OmitsCommonNameAndMarksSanCritical()
    {
        using var ca = CreateAuthority();
        var host = new string('a', 60) + ".example.com";
        var leaf = ca.GetHostCertificate(host);

        Assert.That(leaf.SubjectName.RawData, Has.Length.EqualTo(2), "empty subject");
        var san = CertificateAssert.Extension<X509SubjectAlternativeNameExtension>(leaf);
        Assert.That(san.Critical, Is.True);
        Assert.That(san.EnumerateDnsNames().ToArray(), Is.EqualTo(new[] { host }));
        CertificateAssert.ChainBuilds(ca.RootCertificate, leaf);
        OpenSsl.Verify(_dir.Path, ca.RootCertificate.RawData, leaf.RawData);
    }

    [Test]
    public void GetHostCertificate_WhenNameIs64Characters_KeepsCommonName()
    {
        using var ca = CreateAuthority();
        var host = new string('b', 52) + ".example.com";
        Assert.That(host, Has.Length.EqualTo(64));
        Assert.That(ca.GetHostCertificate(host).GetNameInfo(X509NameType.SimpleName, false), Is.EqualTo(host));
    }

    [Test]
    public void GetHostCertificate_WhenNameEqualsRootCommonName_OmitsCommonName()
    {
        using var ca = CreateAuthority(o => o.RootCommonName = "ca.example.test");
        var leaf = ca.GetHostCertificate("ca.example.test");
        Assert.That(leaf.SubjectName.RawData, Has.Length.EqualTo(2));
        Assert.That(CertificateAssert.DnsNames(leaf), Is.EqualTo(new[] { "ca.example.test" }));
        CertificateAssert.ChainBuilds(ca.RootCertificate, leaf);
    }

    [TestCase("")]
    [TestCase("bad host")]
    [TestCase("example.com:443")]
    [TestCase("a..b")]
    [TestCase("[not-an-ip]")]
    public void GetHostCertificate_WhenHostInvalid_ThrowsArgumentException(string host)
    {
        using var ca = CreateAuthority();
        Assert.Throws(Is.InstanceOf<ArgumentException>(), () => ca.GetHostCertificate(host));
    }

    [Test]
    public void IssueCertificatePem_ReturnsKeyAndCertificateOutsideCache()
    {
        using var ca = CreateAuthority();
        var pem = ca.IssueCertificatePem("Cli.Example.com", wildcard: false);

        Assert.That(pem, Does.Contain("PRIVATE KEY-----"));
        Assert.That(pem.IndexOf("PRIVATE KEY-----", StringComparison.Ordinal), Is.LessThan(pem.IndexOf("BEGIN CERTIFICATE", StringComparison.Ordinal)));
        using var leaf = X509Certificate2.CreateFromPem(pem, pem);
        Assert.That(leaf.HasPrivateKey, Is.True);
        Assert.That(CertificateAssert.DnsNames(leaf), Is.EqualTo(new[] { "cli.example.com" }));
        CertificateAssert.ChainBuilds(ca.RootCertificate, leaf);
        Assert.That(ca.CachedCount, Is.Zero);
        var again = ca.IssueCertificatePem("cli.example.com", wildcard: false);
        Assert.That(again, Is.Not.EqualTo(pem));
    }

    [Test]
    public void IssueCertificatePem_WithWildcard_CoversParentDomain()
    {
        using var ca = CreateAuthority();
        var pem = ca.IssueCertificatePem("shop.example.co.uk", wildcard: true);
        using var leaf = X509Certificate2.CreateFromPem(pem, pem);
        Assert.That(CertificateAssert.DnsNames(leaf), Is.EqualTo(new[] { "*.example.co.uk", "example.co.uk" }));
        Assert.That(leaf.MatchesHostname("shop.example.co.uk"), Is.True);
        OpenSsl.Verify(_dir.Path, ca.RootCertificate.RawData, leaf.RawData);
    }
}
