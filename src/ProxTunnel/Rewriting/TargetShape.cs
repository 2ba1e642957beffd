namespace ProxTunnel.Rewriting;

/// <summary>How the target of the head handed to Kestrel is made.</summary>
internal enum TargetShape
{
    /// <summary>The client's own target, untouched (origin-form outside a tunnel).</summary>
    Verbatim,

    /// <summary>Prefix, origin (of the URL's host or of the tunnel), path and query: a proxied request.</summary>
    Prefixed,

    /// <summary>Path and query alone: a proxy host's path.</summary>
    ProxyHostPath,

    /// <summary>A complete target a resolver chose (given as the prefix).</summary>
    Resolved,
}
