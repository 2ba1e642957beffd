namespace ProxTunnel.Certificates;

/// <summary>Where host certificates get their key pair. Internal: a measured engineering choice, not a user setting.</summary>
internal enum LeafKeyMode
{
    /// <summary>A fresh key generated during issuance, on the handshake path (the behaviour before pooling).</summary>
    PerCertificate,

    /// <summary>A fresh key per certificate, taken from a bounded pool refilled in the background; generated inline
    /// only when the pool is empty. The default: same security as <see cref="PerCertificate"/>, without its latency.</summary>
    Pool,

    /// <summary>One key for every certificate of the process, as mitmproxy does. Never written to disk: with a cache
    /// directory the authority uses <see cref="Pool"/> instead, and exported PEMs always get a key of their own.</summary>
    ProcessKey,
}
