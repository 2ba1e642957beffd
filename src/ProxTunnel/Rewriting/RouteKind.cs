namespace ProxTunnel.Rewriting;

/// <summary>What <see cref="RequestRouter"/> decided for one parsed head.</summary>
internal enum RouteKind
{
    /// <summary>Origin-form outside a tunnel: an ordinary request to this server, passed untouched.</summary>
    Verbatim,

    /// <summary>A proxied request with the fixed prefix.</summary>
    Prefixed,

    /// <summary>A path on a proxy host (SPEC §3.4) that goes to the app unprefixed.</summary>
    ProxyHostPath,

    /// <summary>One of the library's own pages on the proxy host, answered by the proxy.</summary>
    ProxyPage,

    /// <summary>A proxied request whose target the resolver decides.</summary>
    Resolve,

    /// <summary>A CONNECT on a plain proxy connection: the Connect stage takes it.</summary>
    Connect,

    /// <summary>Refused with <see cref="HeadRoute.Reason"/>.</summary>
    Refuse,
}
