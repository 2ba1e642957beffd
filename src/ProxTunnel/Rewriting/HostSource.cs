namespace ProxTunnel.Rewriting;

/// <summary>Where the Host header Kestrel gets comes from (SPEC §3.1, §3.4).</summary>
internal enum HostSource
{
    /// <summary>The client's own line, untouched.</summary>
    Client,

    /// <summary>The absolute-form target's authority (RFC 9112 §3.2.2: a proxy must not forward the received Host).</summary>
    Url,

    /// <summary>The tunnel's authority.</summary>
    Tunnel,
}
