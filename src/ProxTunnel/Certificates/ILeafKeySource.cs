namespace ProxTunnel.Certificates;

/// <summary>Supplies key pairs for host certificates; thread-safe. See <see cref="LeafKeyMode"/>.</summary>
internal interface ILeafKeySource : IDisposable
{
    /// <summary>A key for one certificate. Never blocks on other callers; the caller disposes the result.</summary>
    LeafKey Take();

    /// <summary>The source for <paramref name="mode"/>; <paramref name="poolSize"/> bounds the pool.</summary>
    static ILeafKeySource Create(LeafKeyMode mode, CertificateKeyAlgorithm algorithm, int poolSize) => mode switch
    {
        LeafKeyMode.PerCertificate => new FreshLeafKeys(algorithm),
        LeafKeyMode.Pool => new LeafKeyPool(algorithm, poolSize),
        LeafKeyMode.ProcessKey => new ProcessLeafKey(algorithm),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown leaf key mode."),
    };
}
