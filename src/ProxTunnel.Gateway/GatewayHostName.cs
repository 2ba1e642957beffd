namespace ProxTunnel.Gateway;

/// <summary>The one place that decides what <c>--proxy-host</c> and <c>--proxy-alias</c> accept.</summary>
internal static class GatewayHostName
{
    /// <summary>True for a DNS name or IPv4 address usable unescaped as a URL host; false for IPv6 literals (<c>::1</c>),
    /// ports, schemes and anything else. The library's own rule (<c>TargetBuilder.IsPlainHostName</c>) is internal;
    /// this matches it for every name the gateway accepts.</summary>
    public static bool IsValid(string? name)
        => !string.IsNullOrEmpty(name) && name.Length <= 253 && System.Text.Ascii.IsValid(name)
            && Uri.CheckHostName(name) is UriHostNameType.Dns or UriHostNameType.IPv4;
}
