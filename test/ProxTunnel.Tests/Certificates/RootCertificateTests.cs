using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ProxTunnel.Certificates;

namespace ProxTunnel.Tests.Certificates;

[TestFixture]
public sealed class RootCertificateTests
{
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TestDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private CertificateAuthorityOptions Options(string name = "ca/root.pem") => new() { RootCertificatePath = _dir.File(name) };

    [Test]
    public void Constructor_WhenFileMissing_CreatesEcRootWithCaProfile()
    {
        var options = Options("nested/dir/root.pem");
        using var ca = new ProxyCertificateAuthority(options);

        Assert.That(ca.RootWasCreated, Is.True);
        Assert.That(ca.RootCertificatePath, Is.EqualTo(Path.GetFullPath(options.RootCertificatePath)));
        Assert.That(File.Exists(ca.RootCertificatePath), Is.True);
        var root = ca.RootCertificate;
        Assert.That(root.HasPrivateKey, Is.False);
        Assert.That(root.GetKeyAlgorithm(), Is.EqualTo("1.2.840.10045.2.1"));
        Assert.That(root.SignatureAlgorithm.Value, Is.EqualTo("1.2.840.10045.4.3.2"));
        Assert.That(root.GetNameInfo(X509NameType.SimpleName, false), Is.EqualTo("ProxTunnel Root CA"));
        var bc = CertificateAssert.Extension<X509BasicConstraintsExtension>(root);
        Assert.That(bc.Critical && bc.CertificateAuthority, Is.True);
        var ku = CertificateAssert.Extension<X509KeyUsageExtension>(root);
        Assert.That(ku.Critical, Is.True);
        Assert.That(ku.KeyUsages, Is.EqualTo(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign));
        Assert.That(CertificateAssert.SubjectKeyId(root), Is.Not.Empty);
        var lifetime = root.NotAfter - DateTime.Now;
        Assert.That(lifetime.TotalDays, Is.InRange(3649, 3651));
        Assert.That(ca.RootSha256Fingerprint, Does.Match("^([0-9A-F]{2}:){31}[0-9A-F]{2}$"));
        Assert.That(ca.RootSha256Fingerprint.Replace(":", "", StringComparison.Ordinal), Is.EqualTo(root.GetCertHashString(HashAlgorithmName.SHA256)));
    }

    [Test]
    public void Constructor_WhenFileCreated_WritesOwnerOnlyKeyThenCertificate()
    {
        using var ca = new ProxyCertificateAuthority(Options());
        Assert.That(OperatingSystem.IsWindows() || File.GetUnixFileMode(ca.RootCertificatePath) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), Is.True, "mode 0600");
        var text = File.ReadAllText(ca.RootCertificatePath);
        Assert.That(text, Does.StartWith("-----BEGIN EC PRIVATE KEY-----"));
        Assert.That(text.IndexOf("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal), Is.GreaterThan(0));
        Assert.That(Directory.GetFiles(Path.GetDirectoryName(ca.RootCertificatePath)!).Select(Path.GetFileName), Is.EquivalentTo(new[] { Path.GetFileName(ca.RootCertificatePath), ".gitignore" }), "no temp file left behind");
        OpenSsl.MustSucceed(_dir.Path, "x509", "-in", ca.RootCertificatePath, "-noout");
        OpenSsl.MustSucceed(_dir.Path, "pkey", "-in", ca.RootCertificatePath, "-noout");
    }

    [Test]
    public void Constructor_WhenRsaRequested_WritesCertauthPkcs1Layout()
    {
        var options = Options();
        options.RootKeyAlgorithm = CertificateKeyAlgorithm.Rsa2048;
        using var ca = new ProxyCertificateAuthority(options);
        Assert.That(File.ReadAllText(ca.RootCertificatePath), Does.StartWith("-----BEGIN RSA PRIVATE KEY-----"));
        Assert.That(ca.RootCertificate.SignatureAlgorithm.Value, Is.EqualTo("1.2.840.113549.1.1.11"));
        Assert.That(ca.RootCertificate.GetRSAPublicKey()!.KeySize, Is.EqualTo(2048));
    }

    [Test]
    public void Constructor_WhenFileExists_LoadsSameRoot()
    {
        string fingerprint;
        using (var first = new ProxyCertificateAuthority(Options()))
        {
            fingerprint = first.RootSha256Fingerprint;
        }

        using var second = new ProxyCertificateAuthority(Options());
        Assert.That(second.RootWasCreated, Is.False);
        Assert.That(second.RootSha256Fingerprint, Is.EqualTo(fingerprint));
    }

    [Test]
    public void Constructor_WhenManyInstancesStartAtOnce_AllShareOneRoot()
    {
        var options = Options();
        var fingerprints = Enumerable.Range(0, 6)
            .AsParallel()
            .Select(_ =>
            {
                using var ca = new ProxyCertificateAuthority(options);
                return ca.RootSha256Fingerprint;
            })
            .ToArray();
        Assert.That(fingerprints.Distinct().Count(), Is.EqualTo(1));
    }

    [TestCase("garbage")]
    [TestCase("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")]
    [TestCase("")]
    public void Constructor_WhenFileCorrupt_ThrowsNamingPathAndLeavesFileUnchanged(string content)
    {
        var options = Options();
        Directory.CreateDirectory(Path.GetDirectoryName(options.RootCertificatePath)!);
        var bytes = Encoding.UTF8.GetBytes(content);
        File.WriteAllBytes(options.RootCertificatePath, bytes);
        var before = File.GetLastWriteTimeUtc(options.RootCertificatePath);

        var ex = Assert.Throws(Is.InstanceOf<InvalidOperationException>(), () => new ProxyCertificateAuthority(options).Dispose());

        Assert.That(ex!.Message, Does.Contain(Path.GetFullPath(options.RootCertificatePath)));
        Assert.That(File.ReadAllBytes(options.RootCertificatePath), Is.EqualTo(bytes));
        Assert.That(File.GetLastWriteTimeUtc(options.RootCertificatePath), Is.EqualTo(before));
    }

    [Test]
    public void Constructor_WhenKeyDoesNotMatchCertificate_Throws()
    {
        var options = Options();
        using (new ProxyCertificateAuthority(options))
        {
        }

        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var text = File.ReadAllText(options.RootCertificatePath);
        var certificate = text[text.IndexOf("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)..];
        var mismatched = otherKey.ExportECPrivateKeyPem() + "\n" + certificate;
        File.WriteAllText(options.RootCertificatePath, mismatched);

        var ex = Assert.Throws<InvalidOperationException>(() => new ProxyCertificateAuthority(options).Dispose());
        Assert.That(ex!.Message, Does.Contain(Path.GetFullPath(options.RootCertificatePath)));
        Assert.That(File.ReadAllText(options.RootCertificatePath), Is.EqualTo(mismatched));
    }

    [TestCase("rsa:2048", "traditional", false)]
    [TestCase("rsa:2048", "pkcs8", false)]
    [TestCase("rsa:2048", "traditional", true)]
    [TestCase("ec", "traditional", false)]
    [TestCase("ec", "pkcs8", true)]
    public void Constructor_WhenOpensslCertauthFile_LoadsAndIssuesVerifyingChain(string keyType, string keyFormat, bool certificateFirst)
    {
        var keyPath = _dir.File("k.pem");
        var certPath = _dir.File("c.pem");
        var args = new List<string> { "req", "-x509", "-newkey", keyType };
        if (keyType == "ec")
        {
            args.AddRange(["-pkeyopt", "ec_paramgen_curve:P-256"]);
        }

        args.AddRange(["-nodes", "-keyout", keyPath, "-out", certPath, "-days", "3650", "-subj", "/CN=certauth test CA"]);
        OpenSsl.MustSucceed(_dir.Path, [.. args]);
        if (keyFormat == "traditional")
        {
            // OpenSSL 3 writes PKCS#8 by default; certauth/pyOpenSSL files hold "RSA PRIVATE KEY" / "EC PRIVATE KEY".
            var converted = _dir.File("k1.pem");
            string[] convert = keyType == "ec" ? ["ec", "-in", keyPath, "-out", converted] : ["rsa", "-in", keyPath, "-out", converted, "-traditional"];
            OpenSsl.MustSucceed(_dir.Path, convert);
            keyPath = converted;
        }

        var key = File.ReadAllText(keyPath);
        Assert.That(key, Does.Contain(keyFormat == "pkcs8" ? "BEGIN PRIVATE KEY" : keyType == "ec" ? "BEGIN EC PRIVATE KEY" : "BEGIN RSA PRIVATE KEY"));
        var cert = File.ReadAllText(certPath);
        var options = Options("certauth.pem");
        File.WriteAllText(options.RootCertificatePath, certificateFirst ? cert + key : key + cert);
        var original = File.ReadAllBytes(options.RootCertificatePath);

        using var ca = new ProxyCertificateAuthority(options);
        var leaf = ca.GetHostCertificate("example.com");

        Assert.That(ca.RootWasCreated, Is.False);
        Assert.That(ca.RootCertificate.GetNameInfo(X509NameType.SimpleName, false), Is.EqualTo("certauth test CA"));
        Assert.That(leaf.SignatureAlgorithm.Value, Is.EqualTo(keyType == "ec" ? "1.2.840.10045.4.3.2" : "1.2.840.113549.1.1.11"));
        CertificateAssert.ChainBuilds(ca.RootCertificate, leaf);
        OpenSsl.Verify(_dir.Path, ca.RootCertificate.RawData, leaf.RawData, strict: false);
        Assert.That(File.ReadAllBytes(options.RootCertificatePath), Is.EqualTo(original));
    }

    [Test]
    public void ExportRoot_InEveryFormat_ContainsNoPrivateKey()
    {
        using var ca = new ProxyCertificateAuthority(Options());

        var pem = Encoding.ASCII.GetString(ca.ExportRoot(CertificateExportFormat.Pem));
        Assert.That(pem, Does.StartWith("-----BEGIN CERTIFICATE-----"));
        Assert.That(pem, Does.Not.Contain("PRIVATE KEY"));
        using (var fromPem = X509Certificate2.CreateFromPem(pem))
        {
            Assert.That(fromPem.RawData, Is.EqualTo(ca.RootCertificate.RawData));
        }

        Assert.That(ca.ExportRoot(CertificateExportFormat.Der), Is.EqualTo(ca.RootCertificate.RawData));

        var p12 = ca.ExportRoot(CertificateExportFormat.Pkcs12);
        var collection = X509CertificateLoader.LoadPkcs12Collection(p12, "");
        Assert.That(collection, Has.Count.EqualTo(1));
        Assert.That(collection[0].HasPrivateKey, Is.False);
        Assert.That(collection[0].RawData, Is.EqualTo(ca.RootCertificate.RawData));
        var p12Path = _dir.File("root.p12");
        File.WriteAllBytes(p12Path, p12);
        var (exitCode, output) = OpenSsl.Run(_dir.Path, "pkcs12", "-in", p12Path, "-passin", "pass:", "-nodes");
        Assert.That(exitCode, Is.Zero, output);
        Assert.That(output, Does.Contain("BEGIN CERTIFICATE"));
        Assert.That(output, Does.Not.Contain("PRIVATE KEY"));
        Assert.That(ca.RootCertificate.HasPrivateKey, Is.False);
    }

    [Test]
    public void InitializeRoot_WhenFileExistsWithoutForce_ThrowsNamingPath()
    {
        var options = Options();
        var path = ProxyCertificateAuthority.InitializeRoot(options, force: false);
        var bytes = File.ReadAllBytes(path);

        var ex = Assert.Throws<InvalidOperationException>(() => ProxyCertificateAuthority.InitializeRoot(options, force: false));

        Assert.That(ex!.Message, Does.Contain(path));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(bytes));
    }

    [Test]
    public void InitializeRoot_WithForce_KeepsOldFileAsBackup()
    {
        var options = Options();
        var time = new ManualTimeProvider(new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero));
        var path = ProxyCertificateAuthority.InitializeRoot(options, force: false, time);
        Assert.That(path, Is.EqualTo(Path.GetFullPath(options.RootCertificatePath)));
        Assert.That(OperatingSystem.IsWindows() || File.GetUnixFileMode(path) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), Is.True, "mode 0600");
        var old = File.ReadAllBytes(path);

        ProxyCertificateAuthority.InitializeRoot(options, force: true, time);

        var backup = path + ".bak-20260304T050607Z";
        Assert.That(File.Exists(backup), Is.True);
        Assert.That(File.ReadAllBytes(backup), Is.EqualTo(old));
        Assert.That(File.ReadAllBytes(path), Is.Not.EqualTo(old));
        using var ca = new ProxyCertificateAuthority(options);
        Assert.That(ca.RootWasCreated, Is.False);
    }

    [TestCase(199)]
    [TestCase(365)]
    [TestCase(0)]
    public void Constructor_WhenLeafLifetimeTooLong_ThrowsOutOfRange(int days)
    {
        var options = Options();
        options.LeafLifetime = TimeSpan.FromDays(days);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ProxyCertificateAuthority(options).Dispose());
        Assert.That(File.Exists(options.RootCertificatePath), Is.False);
    }

    [Test]
    public void Constructor_WhenLeafLifetimeAtLimit_IssuesWithin199Days()
    {
        var options = Options();
        options.LeafLifetime = TimeSpan.FromDays(198);
        using var ca = new ProxyCertificateAuthority(options);
        var leaf = ca.GetHostCertificate("example.com");
        Assert.That((leaf.NotAfter - leaf.NotBefore).TotalDays, Is.LessThanOrEqualTo(199));
    }
}
