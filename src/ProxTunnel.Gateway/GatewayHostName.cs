using ProxTunnel.Urls;

namespace ProxTunnel.Gateway;

/// <summary>The one place that decides what <c>--proxy-host</c> and <c>--proxy-alias</c> accept.</summary>
internal static class GatewayHostName
{
    /// <summary>True for a host the library accepts as a proxy host: a DNS name, an IPv4 address or a bracketed IPv6
    /// literal, by the same canonical-host rules the library applies to every URL; false for a bare IPv6 literal
    /// (<c>::1</c>), ports, schemes and anything else.</summary>
    public static bool IsValid(string? name) => HostName.TryParse(name, out _);
}
