namespace ProxTunnel;

/// <summary>
/// Set on connections that arrived through CONNECT; reachable as <c>HttpContext.Features.Get&lt;IProxyTunnelFeature&gt;()</c>.
/// </summary>
public interface IProxyTunnelFeature
{
    /// <summary>Host named by the CONNECT request, canonical: lower-case punycode without a trailing dot, IPv4 dotted
    /// decimal, IPv6 compressed in brackets (<c>[::1]</c>), the same form as <c>ProxyRequestContext.Host</c>.</summary>
    string ConnectHost { get; }

    /// <summary>Port named by the CONNECT request.</summary>
    int ConnectPort { get; }

    /// <summary>Server name the client sent in its TLS ClientHello in canonical form (as <see cref="ConnectHost"/>), or
    /// null when it sent none or one that is no host name.</summary>
    string? ServerName { get; }

    /// <summary>True when the tunnel carried TLS that the proxy terminated.</summary>
    bool IsTlsTerminated { get; }

    /// <summary>The CONNECT request's <c>Proxy-Authorization</c> value, or null.</summary>
    string? ProxyAuthorization { get; }
}
