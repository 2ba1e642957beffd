using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ProxTunnel.Certificates;

/// <summary>A leaf key handed out by an <see cref="ILeafKeySource"/>, with its public half encoded when the key was made
/// (in the background for a pooled key: exporting it is about 10 µs an issuance would otherwise spend). Disposing
/// releases it unless it is the process-wide key, which the source owns.</summary>
internal readonly record struct LeafKey(AsymmetricAlgorithm Algorithm, PublicKey PublicKey, bool IsShared) : IDisposable
{
    /// <summary>A new key of <paramref name="algorithm"/>, not shared.</summary>
    public static LeafKey Create(CertificateKeyAlgorithm algorithm) => Of(CertificateKeys.Create(algorithm), isShared: false);

    /// <summary><paramref name="key"/> with its public half.</summary>
    public static LeafKey Of(AsymmetricAlgorithm key, bool isShared) => new(key, new PublicKey(key), isShared);

    public void Dispose()
    {
        if (!IsShared)
        {
            Algorithm.Dispose();
        }
    }
}
