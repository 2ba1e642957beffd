using System.Text;

namespace ProxTunnel.Rewriting;

/// <summary>
/// Where origin-form requests inside one CONNECT tunnel point: scheme, host (SNI or CONNECT host) and port. It is also
/// the tunnel's <see cref="IProxyTunnelFeature"/>: one object for the tunnel's life instead of two (issue 13.1).
/// </summary>
internal sealed class TunnelTarget : IProxyTunnelFeature
{
    public TunnelTarget(bool https, string host, int port, IReadOnlyDictionary<string, string> connectHeaders, string? connectHost = null,
        string? serverName = null, string? proxyAuthorization = null)
    {
        Https = https;

        // The same string when the host is canonical already: an idle tunnel keeps one copy of it.
        var normalized = TargetBuilder.NormalizeHost(host);
        Host = normalized == host ? host : normalized;
        Port = port;
        ConnectHeaders = connectHeaders;
        ConnectHost = connectHost ?? Host;
        ServerName = serverName;
        ProxyAuthorization = proxyAuthorization;
        var hostBytes = Encoding.ASCII.GetBytes(Host);
        Origin = new byte[TargetBuilder.OriginLength(https, hostBytes, port)];
        TargetBuilder.WriteOrigin(Origin, https, hostBytes, port);
    }

    public bool Https { get; }

    /// <summary>Lower-case; IPv6 in brackets.</summary>
    public string Host { get; }

    public int Port { get; }

    /// <summary><c>scheme://host[:port]</c>, ready to copy into a rewritten target.</summary>
    public byte[] Origin { get; }

    /// <summary><c>host[:port]</c>: the Host header the app sees when the client's own cannot be used.</summary>
    public ReadOnlyMemory<byte> Authority => Origin.AsMemory(Https ? "https://".Length : "http://".Length);

    public IReadOnlyDictionary<string, string> ConnectHeaders { get; }

    public string ConnectHost { get; }

    public int ConnectPort => Port;

    public string? ServerName { get; }

    public bool IsTlsTerminated => Https;

    public string? ProxyAuthorization { get; }
}
