namespace ProxTunnel.Certificates;

/// <summary><see cref="LeafKeyMode.PerCertificate"/>: generates each key when it is asked for.</summary>
internal sealed class FreshLeafKeys(CertificateKeyAlgorithm algorithm) : ILeafKeySource
{
    public LeafKey Take() => new(CertificateKeys.Create(algorithm), IsShared: false);

    public void Dispose()
    {
    }
}
