using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;
using ProxTunnel.Certificates;

namespace ProxTunnel.Tests.Certificates;

/// <summary>
/// Host certificates built inside OpenSSL (<see cref="OpenSslLeafSigner"/>) must be the certificates
/// <see cref="System.Security.Cryptography.X509Certificates.CertificateRequest"/> builds: the same to-be-signed bytes for the
/// same inputs, for every key pairing and host shape, and a valid signature by the root.
/// </summary>
[TestFixture]
public sealed class OpenSslLeafSignerTests
{
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TestDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void TryCreate_OnLinuxWithOpenSsl3_GivesTheFastPath()
    {
        Assume.That(OperatingSystem.IsLinux(), "OpenSSL builds certificates only on Linux.");
        using var root = RootAuthority.LoadOrCreate(_dir.File("root.pem"), new CertificateAuthorityOptions { RootCertificatePath = _dir.File("root.pem") }, DateTimeOffset.UtcNow);

        using var signer = OpenSslLeafSigner.TryCreate(root);

        // The issuance figures in the README rest on this path; a machine without it would quietly lose them.
        Assert.That(signer, Is.Not.Null, "libcrypto.so.3 should be the library .NET uses here");
    }

    [TestCase(CertificateKeyAlgorithm.EcdsaP256, CertificateKeyAlgorithm.EcdsaP256, "www.example.com", false)]
    [TestCase(CertificateKeyAlgorithm.EcdsaP256, CertificateKeyAlgorithm.EcdsaP256, "a.b.example.co.uk", true)]
    [TestCase(CertificateKeyAlgorithm.EcdsaP256, CertificateKeyAlgorithm.EcdsaP256, "127.0.0.1", false)]
    [TestCase(CertificateKeyAlgorithm.EcdsaP256, CertificateKeyAlgorithm.EcdsaP256, "::1", false)]
    [TestCase(CertificateKeyAlgorithm.EcdsaP256, CertificateKeyAlgorithm.EcdsaP256, "xn--bcher-kva.example", false)]
    [TestCase(CertificateKeyAlgorithm.EcdsaP256, CertificateKeyAlgorithm.EcdsaP256,
        "a-label-that-is-long-enough.to-make-the-common-name-longer-than-64.example.com", false)]
    [TestCase(CertificateKeyAlgorithm.EcdsaP256, CertificateKeyAlgorithm.Rsa2048, "www.example.com", false)]
    [TestCase(CertificateKeyAlgorithm.Rsa2048, CertificateKeyAlgorithm.EcdsaP256, "www.example.com", false)]
    [TestCase(CertificateKeyAlgorithm.Rsa2048, CertificateKeyAlgorithm.Rsa2048, "www.example.com", true)]
    public void Issue_WithOpenSsl_SignsTheBytesCertificateRequestSigns(CertificateKeyAlgorithm rootAlgorithm, CertificateKeyAlgorithm leafAlgorithm, string host, bool wildcard)
    {
        Assume.That(OperatingSystem.IsLinux(), "OpenSSL builds certificates only on Linux.");
        var options = new CertificateAuthorityOptions { RootCertificatePath = _dir.File("root.pem"), RootKeyAlgorithm = rootAlgorithm };
        var now = DateTimeOffset.UtcNow;
        using var root = RootAuthority.LoadOrCreate(options.RootCertificatePath, options, now);
        using var signer = OpenSslLeafSigner.TryCreate(root);
        Assert.That(signer, Is.Not.Null);
        var lifetime = TimeSpan.FromDays(45);
        var target = HostNames.Resolve(host, wildcard);
        using var key = CertificateKeys.Create(leafAlgorithm);
        var serial = CertificateKeys.NewSerialNumber();

        using var managed = new HostCertificateFactory(root, lifetime, openSsl: null).Issue(target, now, key, serial);
        using var native = new HostCertificateFactory(root, lifetime, signer).Issue(target, now, key, serial);

        // As the CA issues: over a pooled key whose public half and subject key identifier were made with it.
        using var pooled = new HostCertificateFactory(root, lifetime, signer).Issue(target, now, LeafKey.Of(key, isShared: true), serial);

        // The factory falls back to CertificateRequest when OpenSSL refuses: the signer itself must not have.
        using var direct = signer!.TrySign(managed.SubjectName, key, [.. managed.Extensions], managed.NotBefore, managed.NotAfter, serial);
        Assert.That(direct, Is.Not.Null, "OpenSSL refused the certificate");
        Assert.That(ToBeSigned(direct!), Is.EqualTo(ToBeSigned(managed)), "tbsCertificate, signer");
        Assert.That(ToBeSigned(native), Is.EqualTo(ToBeSigned(managed)), "tbsCertificate, factory");
        Assert.That(ToBeSigned(pooled), Is.EqualTo(ToBeSigned(managed)), "tbsCertificate, factory over a pooled key");
        Assert.That(SignatureAlgorithm(native), Is.EqualTo(SignatureAlgorithm(managed)), "signatureAlgorithm");
        Assert.That(native.HasPrivateKey, Is.True);

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root.Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        Assert.That(chain.Build(native), Is.True, string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));
    }

    private static byte[] ToBeSigned(X509Certificate2 certificate) => Field(certificate, 0);

    private static byte[] SignatureAlgorithm(X509Certificate2 certificate) => Field(certificate, 1);

    private static byte[] Field(X509Certificate2 certificate, int index)
    {
        var reader = new AsnReader(certificate.RawData, AsnEncodingRules.DER).ReadSequence();
        for (var i = 0; i < index; i++)
        {
            reader.ReadEncodedValue();
        }

        return reader.ReadEncodedValue().ToArray();
    }
}
