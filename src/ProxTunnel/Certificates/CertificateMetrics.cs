using System.Diagnostics.Metrics;
using ProxTunnel.Diagnostics;

namespace ProxTunnel.Certificates;

/// <summary>Counters of the certificate authority, published on the <c>ProxTunnel</c> meter.</summary>
internal static class CertificateMetrics
{
    private static Meter Meter => ProxyTunnelMetrics.Meter;

    /// <summary>Host certificates signed by the root (cache misses, renewals and explicit issues).</summary>
    internal static readonly Counter<long> Issued = Meter.CreateCounter<long>(
        "proxtunnel.certificates.issued", unit: "{certificate}", description: "Host certificates issued by the root CA.");

    /// <summary>Lookups answered from the in-memory cache.</summary>
    internal static readonly Counter<long> CacheHits = Meter.CreateCounter<long>(
        "proxtunnel.certificates.cache_hits", unit: "{lookup}", description: "Host certificate lookups answered from the cache.");

    /// <summary>Host certificates held in memory by every authority in the process.</summary>
    internal static readonly UpDownCounter<long> Cached = Meter.CreateUpDownCounter<long>(
        "proxtunnel.certificates.cached", unit: "{certificate}", description: "Host certificates held in the in-memory caches.");
}
