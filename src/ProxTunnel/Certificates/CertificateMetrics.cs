using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using ProxTunnel.Diagnostics;

namespace ProxTunnel.Certificates;

/// <summary>Counters of one certificate authority, published on the <c>ProxTunnel</c> meter of the app that created it.</summary>
internal sealed class CertificateMetrics
{
    // One set of instruments per meter, shared by the app's authorities.
    private static readonly ConditionalWeakTable<Meter, CertificateMetrics> ByMeter = new();

    private CertificateMetrics(Meter meter)
    {
        Issued = meter.CreateCounter<long>(
            "proxtunnel.certificates.issued", unit: "{certificate}", description: "Host certificates issued by the root CA.");
        CacheHits = meter.CreateCounter<long>(
            "proxtunnel.certificates.cache_hits", unit: "{lookup}", description: "Host certificate lookups answered from the cache.");
        Cached = meter.CreateUpDownCounter<long>(
            "proxtunnel.certificates.cached", unit: "{certificate}", description: "Host certificates held in the in-memory caches.");
    }

    /// <summary>Host certificates signed by the root (cache misses, renewals and explicit issues).</summary>
    public Counter<long> Issued { get; }

    /// <summary>Lookups answered from the in-memory cache.</summary>
    public Counter<long> CacheHits { get; }

    /// <summary>Host certificates held in memory.</summary>
    public UpDownCounter<long> Cached { get; }

    /// <summary>The counters on the <c>ProxTunnel</c> meter of <paramref name="meterFactory"/>, or the process-wide ones.</summary>
    public static CertificateMetrics For(IMeterFactory? meterFactory)
        => ByMeter.GetValue(ProxyTunnelMetrics.GetMeter(meterFactory), static m => new CertificateMetrics(m));
}
