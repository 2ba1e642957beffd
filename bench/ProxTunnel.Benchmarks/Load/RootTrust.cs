using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// Client-side certificate validation that trusts only the CA's root, the way a .NET client that trusts one root
/// should: SslStream builds the one chain of each full handshake against that root
/// (<see cref="SslClientAuthenticationOptions.CertificateChainPolicy"/>), not against the system store first and then
/// once more in a callback.
/// </summary>
internal sealed class RootTrust
{
    public RootTrust(X509Certificate2 root)
    {
        ChainPolicy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        ChainPolicy.CustomTrustStore.Add(root);
    }

    /// <summary>False: every handshake is a full one (no TLS session resumption), to show what resumption saves.</summary>
    public bool ResumeSessions { get; init; } = true;

    /// <summary>The policy SslStream validates with (it copies it per handshake).</summary>
    public X509ChainPolicy ChainPolicy { get; }

    /// <summary>Accepts what the policy's chain and the host-name check accepted.</summary>
    public RemoteCertificateValidationCallback Callback { get; } =
        static (_, certificate, _, errors) => certificate is not null && errors == SslPolicyErrors.None;
}
