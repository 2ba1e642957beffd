using System.Security.Cryptography.X509Certificates;

namespace ProxTunnel.Tests.Gateway;

/// <summary><c>proxtunnel ca init | issue | export</c> run as real processes.</summary>
[NonParallelizable]
public sealed class CaCommandTests
{
    private string _directory = null!;

    private string CaPath => Path.Combine(_directory, "ca.pem");

    [SetUp]
    public void CreateDirectory()
    {
        _directory = Path.Combine(Path.GetTempPath(), "proxtunnel-gateway-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public async Task Init_WhenMissing_CreatesPrivateRootAndPrintsFingerprint()
    {
        var result = await GatewayProcess.RunAsync(["ca", "init", "--ca", CaPath]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var root = X509Certificate2.CreateFromPemFile(CaPath);
        Assert.Multiple(() =>
        {
            Assert.That(result.StdOut, Does.Contain(CaPath));
            Assert.That(result.StdOut, Does.Contain(root.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256)[..2]));
            Assert.That(root.HasPrivateKey, Is.True);
            Assert.That(File.ReadAllText(CaPath), Does.Contain("PRIVATE KEY"));
        });
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(File.GetUnixFileMode(CaPath), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }
    }

    [Test]
    public async Task Init_Twice_SecondFailsWithoutForceAndKeepsTheFile()
    {
        Assert.That((await GatewayProcess.RunAsync(["ca", "init", "--ca", CaPath])).ExitCode, Is.Zero);
        var before = await File.ReadAllTextAsync(CaPath);
        var second = await GatewayProcess.RunAsync(["ca", "init", "--ca", CaPath]);
        Assert.Multiple(() =>
        {
            Assert.That(second.ExitCode, Is.EqualTo(1), second.ToString());
            Assert.That(second.StdErr, Does.Contain("already exists"));
            Assert.That(File.ReadAllText(CaPath), Is.EqualTo(before));
            Assert.That(Directory.GetFiles(_directory, "ca.pem.bak-*"), Is.Empty);
        });
    }

    [Test]
    public async Task Init_WithForce_RenamesOldRootToBak()
    {
        Assert.That((await GatewayProcess.RunAsync(["ca", "init", "--ca", CaPath])).ExitCode, Is.Zero);
        var before = await File.ReadAllTextAsync(CaPath);
        var forced = await GatewayProcess.RunAsync(["ca", "init", "--force", "--ca", CaPath]);
        Assert.That(forced.ExitCode, Is.Zero, forced.ToString());
        var backups = Directory.GetFiles(_directory, "ca.pem.bak-*");
        Assert.Multiple(() =>
        {
            Assert.That(backups, Has.Length.EqualTo(1));
            Assert.That(File.ReadAllText(backups[0]), Is.EqualTo(before));
            Assert.That(File.ReadAllText(CaPath), Is.Not.EqualTo(before));
        });
    }

    [Test]
    public async Task Issue_ToStdout_PrintsKeyAndCertificateChainingToRoot()
    {
        var result = await GatewayProcess.RunAsync(["ca", "issue", "example.org", "--ca", CaPath]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var leaf = X509Certificate2.CreateFromPem(result.StdOut, result.StdOut);
        using var root = X509Certificate2.CreateFromPemFile(CaPath);
        Assert.Multiple(() =>
        {
            Assert.That(result.StdOut, Does.Contain("PRIVATE KEY"));
            Assert.That(leaf.HasPrivateKey, Is.True);
            Assert.That(leaf.MatchesHostname("example.org"), Is.True);
            Assert.That(ChainsTo(leaf, root), Is.True);
        });
    }

    [Test]
    public async Task Issue_WildcardToFile_WritesPrivateFileCoveringSiblings()
    {
        var output = Path.Combine(_directory, "leaf.pem");
        var result = await GatewayProcess.RunAsync(["ca", "issue", "www.example.org", "--wildcard", "--out", output, "--ca", CaPath]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var leaf = X509Certificate2.CreateFromPemFile(output, output);
        Assert.Multiple(() =>
        {
            Assert.That(result.StdOut, Is.Empty);
            Assert.That(leaf.MatchesHostname("api.example.org"), Is.True);
        });
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(File.GetUnixFileMode(output), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }
    }

    [Test]
    public async Task Issue_WhenHostInvalid_ExitsTwo()
    {
        var result = await GatewayProcess.RunAsync(["ca", "issue", "bad host!", "--ca", CaPath]);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
    }

    [TestCase("pem")]
    [TestCase("cer")]
    [TestCase("p12")]
    public async Task Export_ToFile_CertificateOnlyMatchingRoot(string format)
    {
        Assert.That((await GatewayProcess.RunAsync(["ca", "init", "--ca", CaPath])).ExitCode, Is.Zero);
        var output = Path.Combine(_directory, "root." + format);
        var result = await GatewayProcess.RunAsync(["ca", "export", "--format", format, "--out", output, "--ca", CaPath]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var root = X509Certificate2.CreateFromPemFile(CaPath);
        var bytes = await File.ReadAllBytesAsync(output);
        AssertCertificateOnly(format, bytes, root);
    }

    [TestCase("pem")]
    [TestCase("cer")]
    [TestCase("p12")]
    public async Task Export_ToRedirectedStdout_WritesTheBytes(string format)
    {
        Assert.That((await GatewayProcess.RunAsync(["ca", "init", "--ca", CaPath])).ExitCode, Is.Zero);
        var result = await GatewayProcess.RunAsync(["ca", "export", "--format", format, "--ca", CaPath]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var root = X509Certificate2.CreateFromPemFile(CaPath);
        AssertCertificateOnly(format, result.StdOutBytes, root);
    }

    [TestCase("p12")]
    [TestCase("cer")]
    public async Task Export_BinaryToTerminal_RefusedWithExitTwo(string format)
    {
        Assert.That((await GatewayProcess.RunAsync(["ca", "init", "--ca", CaPath])).ExitCode, Is.Zero);

        // `script` gives the child a pseudo-terminal as stdout; -e returns the child's exit code.
        var command = $"dotnet '{GatewayProcess.DllPath}' ca export --format {format} --ca '{CaPath}'";
        var result = await ExternalProcess.RunAsync("/usr/bin/script", ["-qec", command, "/dev/null"], TimeSpan.FromSeconds(60));
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.StdOut, Does.Contain("--out"));
        });
    }

    private static void AssertCertificateOnly(string format, byte[] bytes, X509Certificate2 root)
    {
        switch (format)
        {
            case "pem":
                var text = System.Text.Encoding.ASCII.GetString(bytes);
                Assert.That(text, Does.StartWith("-----BEGIN CERTIFICATE-----"));
                Assert.That(text, Does.Not.Contain("PRIVATE KEY"));
                using (var pem = X509Certificate2.CreateFromPem(text))
                {
                    Assert.That(pem.Thumbprint, Is.EqualTo(root.Thumbprint));
                }

                break;
            case "cer":
                using (var der = X509CertificateLoader.LoadCertificate(bytes))
                {
                    Assert.That(der.Thumbprint, Is.EqualTo(root.Thumbprint));
                }

                break;
            default:
                var collection = X509CertificateLoader.LoadPkcs12Collection(bytes, string.Empty);
                Assert.Multiple(() =>
                {
                    Assert.That(collection, Has.Count.EqualTo(1));
                    Assert.That(collection[0].Thumbprint, Is.EqualTo(root.Thumbprint));
                    Assert.That(collection[0].HasPrivateKey, Is.False);
                });
                foreach (var certificate in collection)
                {
                    certificate.Dispose();
                }

                break;
        }
    }

    private static bool ChainsTo(X509Certificate2 leaf, X509Certificate2 root)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }
}
