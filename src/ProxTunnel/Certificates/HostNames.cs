using System.Net;
using ProxTunnel.Urls;

namespace ProxTunnel.Certificates;

/// <summary>Turns the host a client asked for into the name a certificate is issued for.</summary>
internal static class HostNames
{
    /// <summary>
    /// Canonicalizes the host (<see cref="HostName"/>: IDN to punycode, lower case, trailing dot removed, IPv4 in any
    /// browser form to dotted decimal, IPv6 with or without brackets; an IPv6 zone id is ignored) and chooses an exact
    /// or wildcard certificate. Throws <see cref="ArgumentException"/> for anything that cannot be a host name.
    /// </summary>
    internal static CertificateTarget Resolve(string host, bool wildcard, PublicSuffixList? suffixes = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        var text = host.Trim();
        if (text.Length == 0)
        {
            throw new ArgumentException("The host name is empty.", nameof(host));
        }

        if (text.Contains(':', StringComparison.Ordinal) && !text.StartsWith('['))
        {
            // A bare IPv6 literal; a zone id ("%eth0") is local to this machine and has no place in a certificate.
            var zone = text.IndexOf('%', StringComparison.Ordinal);
            text = "[" + (zone < 0 ? text : text[..zone]) + "]";
        }

        var canonical = HostName.TryParse(text, out var parsed) ? parsed : throw new ArgumentException($"'{host}' is not a valid host name.", nameof(host));
        if (canonical.Kind != HostKind.Dns)
        {
            var address = IPAddress.Parse(canonical.Kind == HostKind.IPv6 ? canonical.Value[1..^1] : canonical.Value);
            return new CertificateTarget(address.ToString(), [], address);
        }

        var name = canonical.Value;
        if (wildcard)
        {
            var dot = name.IndexOf('.', StringComparison.Ordinal);
            if (dot > 0)
            {
                // The wildcard's base must be a registrable domain or below one: never "*.com", "*.co.uk" or "*.vn.ua".
                var parent = name[(dot + 1)..];
                if (!(suffixes ?? PublicSuffixList.Default).IsPublicSuffix(parent))
                {
                    var wildcardName = "*." + parent;
                    return new CertificateTarget(wildcardName, [wildcardName, parent], null);
                }
            }
        }

        return new CertificateTarget(name, [name], null);
    }
}
