using System.Diagnostics.Metrics;

namespace ProxTunnel.Certificates;

/// <summary>Counters of the certificate authority, published on the <c>ProxTunnel</c> meter.</summary>
internal static class CertificateMetrics
{
    /// <summary>Name shared by every ProxTunnel meter, so one listener subscription sees them all.</summary>
    internal const string MeterName = "ProxTunnel";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Host certificates signed by the root (cache misses, renewals and explicit issues).</summary>
    internal static readonly Counter<long> Issued = Meter.CreateCounter<long>(
        "proxtunnel.certificates.issued", unit: "{certificate}", description: "Host certificates issued by the root CA.");

    /// <summary>Lookups answered from the in-memory cache.</summary>
    internal static readonly Counter<long> CacheHits = Meter.CreateCounter<long>(
        "proxtunnel.certificates.cache_hits", unit: "{lookup}", description: "Host certificate lookups answered from the cache.");
}
