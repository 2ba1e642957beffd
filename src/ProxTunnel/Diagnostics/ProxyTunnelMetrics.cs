using System.Diagnostics.Metrics;

namespace ProxTunnel.Diagnostics;

/// <summary>Counters of the <c>ProxTunnel</c> meter. Static so every listener and CA in the process reports to one meter.</summary>
internal static class ProxyTunnelMetrics
{
    public const string MeterName = "ProxTunnel";

    /// <summary>The one <c>ProxTunnel</c> meter; the certificate authority's counters live on it too.</summary>
    internal static readonly Meter Meter = new(MeterName);

    public static readonly Counter<long> TunnelsOpened = Meter.CreateCounter<long>("proxtunnel.tunnels.opened", description: "CONNECT tunnels established.");
    public static readonly UpDownCounter<long> TunnelsActive = Meter.CreateUpDownCounter<long>("proxtunnel.tunnels.active", description: "CONNECT tunnels open now.");
    public static readonly Counter<long> RequestsRewritten = Meter.CreateCounter<long>("proxtunnel.requests.rewritten", description: "Request heads rewritten to a prefixed target.");
    public static readonly Counter<long> HandshakeFailures = Meter.CreateCounter<long>("proxtunnel.tls.handshake_failures", description: "TLS handshakes that failed or timed out.");
    public static readonly Counter<long> BadRequests = Meter.CreateCounter<long>("proxtunnel.requests.rejected", description: "Requests refused with a 4xx/5xx by the proxy layer.");
}
