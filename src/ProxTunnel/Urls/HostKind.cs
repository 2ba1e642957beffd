namespace ProxTunnel.Urls;

/// <summary>What a canonical <see cref="HostName"/> is.</summary>
internal enum HostKind
{
    /// <summary>A DNS name: lower-case ASCII (IDNs as punycode A-labels), no trailing dot.</summary>
    Dns,

    /// <summary>An IPv4 address in dotted decimal.</summary>
    IPv4,

    /// <summary>An IPv6 address, compressed lower-case, in brackets.</summary>
    IPv6,
}
