namespace ProxTunnel.Certificates;

/// <summary><see cref="LeafKeyMode.PerCertificate"/>: generates each key when it is asked for.</summary>
internal sealed class FreshLeafKeys(CertificateKeyAlgorithm algorithm) : ILeafKeySource
{
    public LeafKey Take() => LeafKey.Create(algorithm);

    public void Dispose()
    {
    }
}
