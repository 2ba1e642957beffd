using System.Security.Cryptography;

namespace ProxTunnel.Certificates;

/// <summary>
/// <see cref="LeafKeyMode.ProcessKey"/>: one key, created on first use, signs for every host. It lives in this process
/// only; a leak of it would let its holder impersonate every host issued since start (to clients that trust the root),
/// where a per-certificate key exposes one host.
/// </summary>
internal sealed class ProcessLeafKey(CertificateKeyAlgorithm algorithm) : ILeafKeySource
{
    private readonly Lazy<LeafKey> _key = new(() => LeafKey.Of(CertificateKeys.Create(algorithm), isShared: true), LazyThreadSafetyMode.ExecutionAndPublication);

    public LeafKey Take() => _key.Value;

    public void Dispose()
    {
        // Certificates issued with the key hold their own handle to it, so they stay usable.
        if (_key.IsValueCreated)
        {
            _key.Value.Algorithm.Dispose();
        }
    }
}
