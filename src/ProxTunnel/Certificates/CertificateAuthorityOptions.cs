namespace ProxTunnel.Certificates;

/// <summary>Settings of the root CA and of the host certificates it issues.</summary>
public sealed class CertificateAuthorityOptions
{
    /// <summary>Default location of the root file, relative to the working directory.</summary>
    public const string DefaultRootCertificatePath = "./ca/proxtunnel-ca.pem";

    /// <summary>One PEM file holding the root's private key and certificate (certauth/pywb layout). Created on first use.</summary>
    public string RootCertificatePath { get; set; } = DefaultRootCertificatePath;

    /// <summary>Common name of a newly created root.</summary>
    public string RootCommonName { get; set; } = "ProxTunnel Root CA";

    /// <summary>Key type of a newly created root.</summary>
    public CertificateKeyAlgorithm RootKeyAlgorithm { get; set; } = CertificateKeyAlgorithm.EcdsaP256;

    /// <summary>Lifetime of a newly created root.</summary>
    public TimeSpan RootLifetime { get; set; } = TimeSpan.FromDays(3650);

    /// <summary>Key type of issued host certificates.</summary>
    public CertificateKeyAlgorithm LeafKeyAlgorithm { get; set; } = CertificateKeyAlgorithm.EcdsaP256;

    /// <summary>How far notAfter of a host certificate lies ahead of its issuance. notBefore is back-dated one day, and
    /// the whole lifetime (back-dating included) may not exceed 199 days.</summary>
    public TimeSpan LeafLifetime { get; set; } = TimeSpan.FromDays(45);

    /// <summary>A cached host certificate is replaced once less than this is left of its life.</summary>
    public TimeSpan RenewBefore { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Issue <c>*.parent</c> certificates (never directly under a public suffix) so sibling hosts share one.</summary>
    public bool UseWildcardCertificates { get; set; }

    /// <summary>Number of host certificates kept in memory (least recently used are dropped).</summary>
    public int CacheSize { get; set; } = 1000;

    /// <summary>Optional directory where issued host certificates are kept across restarts.</summary>
    public string? CertificateCacheDirectory { get; set; }

    /// <summary>Where leaf keys come from (see <see cref="Certificates.LeafKeyMode"/> for why the pool is the default).</summary>
    internal LeafKeyMode LeafKeyMode { get; set; } = LeafKeyMode.Pool;

    /// <summary>Bound on pre-generated leaf keys in <see cref="LeafKeyMode.Pool"/> mode; a burst of new hosts larger than
    /// this generates the rest inline. 64 P-256 keys are a few KiB and a few milliseconds of background work.</summary>
    internal int LeafKeyPoolSize { get; set; } = 64;

    /// <summary>A copy, so later changes to the caller's object cannot reach a running instance.</summary>
    internal CertificateAuthorityOptions Clone() => (CertificateAuthorityOptions)MemberwiseClone();

    /// <summary>Every setting in one string: equal keys make equal authorities, so listeners can share one.</summary>
    internal string SettingsKey => string.Join('|', Path.GetFullPath(RootCertificatePath), RootCommonName, RootKeyAlgorithm, RootLifetime.Ticks,
        LeafKeyAlgorithm, LeafLifetime.Ticks, RenewBefore.Ticks, UseWildcardCertificates, CacheSize, CertificateCacheDirectory, LeafKeyMode, LeafKeyPoolSize);
}
