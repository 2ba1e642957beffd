using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BenchmarkDotNet.Attributes;
using ProxTunnel.Certificates;

namespace ProxTunnel.Benchmarks;

/// <summary>
/// A cache miss on the handshake path (key, signature, TLS context) for each <see cref="LeafKeyMode"/>, and its parts.
/// The pool starts every iteration full (as it is between bursts) and holds more keys than an iteration takes, so
/// <c>Pool</c> is the handshake-path cost; the background refill it triggers runs meanwhile on the other core.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[InvocationCount(Invocations, unrollFactor: 1)]
public class NewHostIssuanceBenchmarks
{
    private const int Invocations = 256;
    private string _dir = null!;
    private ProxyCertificateAuthority _authority = null!;
    private int _counter;

    /// <summary>A <see cref="LeafKeyMode"/> name (the enum is internal, parameters must be public).</summary>
    [Params(nameof(LeafKeyMode.PerCertificate), nameof(LeafKeyMode.Pool), nameof(LeafKeyMode.ProcessKey))]
    public string Mode { get; set; } = nameof(LeafKeyMode.Pool);

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "proxtunnel-ca-bench", Guid.NewGuid().ToString("N"));
        // A cache far larger than any run, so every new host is a pure issuance and nothing is evicted.
        _authority = new ProxyCertificateAuthority(new CertificateAuthorityOptions
        {
            RootCertificatePath = Path.Combine(_dir, "ec.pem"),
            CacheSize = 10_000_000,
            LeafKeyMode = Enum.Parse<LeafKeyMode>(Mode),
            LeafKeyPoolSize = Invocations * 2,
        });
        _authority.GetCertificateContext("example.com");
    }

    [IterationSetup]
    public void FillPool() => (_authority.LeafKeys as LeafKeyPool)?.Fill();

    [GlobalCleanup]
    public void Cleanup()
    {
        _authority.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>What a never-seen host costs the handshake that triggers it.</summary>
    [Benchmark]
    public object NewHost() => _authority.GetCertificateContext($"h{Interlocked.Increment(ref _counter)}.example.com");
}

/// <summary>The parts of an issuance, to see where a miss spends its time.</summary>
[MemoryDiagnoser]
[MedianColumn]
public class IssuancePartsBenchmarks
{
    private ECDsa _key = null!;
    private X509Certificate2 _leaf = null!;

    [GlobalSetup]
    public void Setup()
    {
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=example.com", _key, HashAlgorithmName.SHA256);
        _leaf = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(45));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _leaf.Dispose();
        _key.Dispose();
    }

    [Benchmark]
    public object GenerateP256Key()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return key.KeySize;
    }

    [Benchmark]
    public object SslStreamCertificateContextCreate() =>
        System.Net.Security.SslStreamCertificateContext.Create(_leaf, additionalCertificates: null, offline: true);
}
