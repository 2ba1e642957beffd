using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// Client-side certificate validation that trusts only the CA's root. A certificate already validated once is
/// accepted by its hash, so keep-alive load measures the server, not the client's chain building. The time spent
/// building chains is summed so latency figures can be shown without it.
/// </summary>
internal sealed class RootTrust
{
    private readonly X509Certificate2 _root;
    private readonly ConcurrentDictionary<string, bool> _validated = new(StringComparer.Ordinal);
    private long _validationTicks;

    /// <param name="root">The only trusted root.</param>
    /// <param name="buildChains">False: accept a certificate whose issuer name is the root's without building a chain
    /// (bursts of new hosts, where chain building would be client work competing with the server).</param>
    public RootTrust(X509Certificate2 root, bool buildChains = true)
    {
        _root = root;
        Callback = buildChains ? Validate : IssuedByRoot;
    }

    public RemoteCertificateValidationCallback Callback { get; }

    public long ValidationTicks => Interlocked.Read(ref _validationTicks);

    private bool IssuedByRoot(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        certificate is not null && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0 && certificate.Issuer == _root.Subject;

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        var key = certificate.GetCertHashString();
        if (_validated.TryGetValue(key, out var known))
        {
            return known;
        }

        var start = Stopwatch.GetTimestamp();
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.Add(_root);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        var ok = custom.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        Interlocked.Add(ref _validationTicks, Stopwatch.GetTimestamp() - start);
        _validated[key] = ok;
        return ok;
    }
}
