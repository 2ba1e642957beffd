using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ProxTunnel.Certificates;

/// <summary>
/// The trust each leaf's TLS context builds its chain against where .NET runs on OpenSSL: one self-signed certificate,
/// made once per process, that has issued nothing, so the build stops at the leaf without checking a signature.
/// </summary>
/// <remarks>
/// That chain only decides which certificates the context sends beside the leaf, and a leaf of ours has none to send
/// (its issuer is the root, which the context trims and clients hold already). CPU per context (`issuance-cpu`): against
/// the system store, which is copied into a fresh OpenSSL store, about 720 µs; against our root, which checks the leaf's
/// signature and the root's own (two ECDSA verifications), about 190 µs; against this anchor about 70 µs. An empty
/// trust costs more than our root. Never sent in handshakes, and no client certificate is asked for.
/// </remarks>
internal static class LeafChainTrust
{
    internal static SslCertificateTrust Instance { get; } = Create();

    private static SslCertificateTrust Create()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=ProxTunnel chain stop (issues nothing)", key, HashAlgorithmName.SHA256);
        var now = DateTimeOffset.UtcNow;
        using var withKey = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(100));

        // The key is dropped here: nothing is ever signed with it.
        var anchor = X509CertificateLoader.LoadCertificate(withKey.RawData);
        return SslCertificateTrust.CreateForX509Collection(new X509Certificate2Collection(anchor), sendTrustInHandshake: false);
    }
}
