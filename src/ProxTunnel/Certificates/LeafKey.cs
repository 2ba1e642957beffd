using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ProxTunnel.Certificates;

/// <summary>A leaf key handed out by an <see cref="ILeafKeySource"/>, with its public half encoded and its subject key
/// identifier computed when the key was made (in the background for a pooled key: exporting the public half alone took
/// 11–13 µs of an issuance, more with cold caches). Disposing releases it unless it is the process-wide key, which the
/// source owns.</summary>
internal readonly record struct LeafKey(AsymmetricAlgorithm Algorithm, PublicKey PublicKey, X509SubjectKeyIdentifierExtension SubjectKeyIdentifier,
    bool IsShared) : IDisposable
{
    /// <summary>A new key of <paramref name="algorithm"/>, not shared.</summary>
    public static LeafKey Create(CertificateKeyAlgorithm algorithm) => Of(CertificateKeys.Create(algorithm), isShared: false);

    /// <summary><paramref name="key"/> with its public half and subject key identifier.</summary>
    public static LeafKey Of(AsymmetricAlgorithm key, bool isShared)
    {
        var publicKey = new PublicKey(key);
        return new(key, publicKey, new X509SubjectKeyIdentifierExtension(publicKey, critical: false), isShared);
    }

    public void Dispose()
    {
        if (!IsShared)
        {
            Algorithm.Dispose();
        }
    }
}
