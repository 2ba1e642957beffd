using BenchmarkDotNet.Attributes;
using ProxTunnel.Certificates;

namespace ProxTunnel.Benchmarks;

/// <summary>Issuance under an RSA root (a miss with the default key pool) and the cache-hit path; EC-root issuance per
/// key mode is in <see cref="NewHostIssuanceBenchmarks"/>.</summary>
[MemoryDiagnoser]
[MedianColumn]
public class CertificateAuthorityBenchmarks
{
    private string _dir = null!;
    private ProxyCertificateAuthority _ecAuthority = null!;
    private ProxyCertificateAuthority _rsaAuthority = null!;
    private int _counter;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "proxtunnel-ca-bench", Guid.NewGuid().ToString("N"));
        // A cache far larger than any run, so every new host is a pure issuance and nothing is evicted.
        _ecAuthority = new ProxyCertificateAuthority(new CertificateAuthorityOptions
        {
            RootCertificatePath = Path.Combine(_dir, "ec.pem"),
            CacheSize = 10_000_000,
        });

        // Create the RSA-2048 root (written in the certauth PKCS#1 layout), then load it from that file as a user would.
        var rsaPath = Path.Combine(_dir, "rsa.pem");
        ProxyCertificateAuthority.InitializeRoot(
            new CertificateAuthorityOptions { RootCertificatePath = rsaPath, RootKeyAlgorithm = CertificateKeyAlgorithm.Rsa2048 }, force: false);
        _rsaAuthority = new ProxyCertificateAuthority(new CertificateAuthorityOptions { RootCertificatePath = rsaPath, CacheSize = 10_000_000 });

        _ecAuthority.GetCertificateContext("example.com");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ecAuthority.Dispose();
        _rsaAuthority.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark]
    public object NewHostIssuanceRsaRoot() => _rsaAuthority.GetCertificateContext($"h{Interlocked.Increment(ref _counter)}.example.com");

    [Benchmark]
    public object CacheHit() => _ecAuthority.GetCertificateContext("example.com");
}
