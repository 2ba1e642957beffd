namespace ProxTunnel;

/// <summary>
/// Set on connections that arrived through CONNECT; reachable as <c>HttpContext.Features.Get&lt;IProxyTunnelFeature&gt;()</c>.
/// </summary>
public interface IProxyTunnelFeature
{
    /// <summary>Host named by the CONNECT request (IPv6 without brackets).</summary>
    string ConnectHost { get; }

    /// <summary>Port named by the CONNECT request.</summary>
    int ConnectPort { get; }

    /// <summary>Server name the client sent in its TLS ClientHello, or null.</summary>
    string? ServerName { get; }

    /// <summary>True when the tunnel carried TLS that the proxy terminated.</summary>
    bool IsTlsTerminated { get; }

    /// <summary>The CONNECT request's <c>Proxy-Authorization</c> value, or null.</summary>
    string? ProxyAuthorization { get; }
}
