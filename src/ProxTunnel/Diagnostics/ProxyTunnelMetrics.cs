using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace ProxTunnel.Diagnostics;

/// <summary>
/// Counters of the <c>ProxTunnel</c> meter for one application. The meter comes from the app's
/// <see cref="IMeterFactory"/>, as Kestrel's own does, so listeners scoped to that factory see only this app's counts.
/// </summary>
internal sealed class ProxyTunnelMetrics
{
    public const string MeterName = "ProxTunnel";

    // Without an IMeterFactory (a bare service provider) there is no app scope: one process-wide meter, never disposed.
    private static readonly Lazy<Meter> ProcessMeter = new(() => new Meter(MeterName));

    // One set of instruments per meter, however many listeners an app has.
    private static readonly ConditionalWeakTable<Meter, ProxyTunnelMetrics> ByMeter = new();

    private ProxyTunnelMetrics(Meter meter)
    {
        TunnelsOpened = meter.CreateCounter<long>("proxtunnel.tunnels.opened", unit: "{tunnel}", description: "CONNECT tunnels established.");
        TunnelsActive = meter.CreateUpDownCounter<long>("proxtunnel.tunnels.active", unit: "{tunnel}", description: "CONNECT tunnels open now.");
        RequestsRewritten = meter.CreateCounter<long>("proxtunnel.requests.rewritten", unit: "{request}", description: "Request heads rewritten to a prefixed target.");
        HandshakeFailures = meter.CreateCounter<long>("proxtunnel.tls.handshake_failures", unit: "{handshake}", description: "TLS handshakes that failed or timed out.");
        BadRequests = meter.CreateCounter<long>("proxtunnel.requests.rejected", unit: "{request}", description: "Requests refused with a 4xx/5xx by the proxy layer.");
    }

    public Counter<long> TunnelsOpened { get; }

    public UpDownCounter<long> TunnelsActive { get; }

    public Counter<long> RequestsRewritten { get; }

    public Counter<long> HandshakeFailures { get; }

    public Counter<long> BadRequests { get; }

    /// <summary>The counters for an app with <paramref name="meterFactory"/>, or the process-wide ones when it has none.</summary>
    public static ProxyTunnelMetrics For(IMeterFactory? meterFactory) => ByMeter.GetValue(GetMeter(meterFactory), static m => new ProxyTunnelMetrics(m));

    /// <summary>The <c>ProxTunnel</c> meter of <paramref name="meterFactory"/> (the factory hands out one per name), or the
    /// process-wide one.</summary>
    public static Meter GetMeter(IMeterFactory? meterFactory) => meterFactory?.Create(MeterName) ?? ProcessMeter.Value;
}
