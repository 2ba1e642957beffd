using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ProxTunnel.Certificates;

/// <summary>Turns the host a client asked for into the name a certificate is issued for.</summary>
internal static class HostNames
{
    private const int MaxNameLength = 253;
    private const int MaxLabelLength = 63;

    private static readonly SearchValues<char> LabelCharacters = SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-_");

    /// <summary>
    /// Normalizes a DNS name (IDN to punycode, lower case, trailing dot removed), an IPv4 literal or an IPv6 literal
    /// with or without brackets, and chooses an exact or wildcard certificate. Throws <see cref="ArgumentException"/>
    /// for anything that cannot be a host name.
    /// </summary>
    internal static CertificateTarget Resolve(string host, bool wildcard, PublicSuffixList? suffixes = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        var text = host.AsSpan().Trim();
        if (text.IsEmpty)
        {
            throw new ArgumentException("The host name is empty.", nameof(host));
        }

        if (TryParseAddress(text, out var address))
        {
            return new CertificateTarget(address.ToString(), [], address);
        }

        var name = NormalizeDnsName(text, host);
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

    private static bool TryParseAddress(ReadOnlySpan<char> text, out IPAddress address)
    {
        if (text.Length > 2 && text[0] == '[' && text[^1] == ']')
        {
            if (IPAddress.TryParse(text[1..^1], out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6)
            {
                address = WithoutScope(v6);
                return true;
            }

            throw new ArgumentException($"'{text}' is not an IPv6 address.");
        }

        // IPAddress.TryParse also takes legacy forms such as "1.2" or "0x7f.1"; only dotted quads count as IPv4 here.
        if (text.Contains(':') ? IPAddress.TryParse(text, out var parsed) : IsDottedQuad(text) && IPAddress.TryParse(text, out parsed))
        {
            address = WithoutScope(parsed!);
            return true;
        }

        address = IPAddress.None;
        return false;
    }

    private static IPAddress WithoutScope(IPAddress address)
    {
        // A zone index ("%eth0") is local to this machine and has no place in a certificate.
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0)
        {
            return new IPAddress(address.GetAddressBytes());
        }

        return address;
    }

    private static bool IsDottedQuad(ReadOnlySpan<char> text)
    {
        var parts = 0;
        foreach (var range in text.Split('.'))
        {
            var part = text[range];
            if (part.IsEmpty || part.Length > 3 || !part.ContainsOnlyDigits())
            {
                return false;
            }

            parts++;
        }

        return parts == 4;
    }

    private static bool ContainsOnlyDigits(this ReadOnlySpan<char> text) => !text.ContainsAnyExceptInRange('0', '9');

    private static string NormalizeDnsName(ReadOnlySpan<char> text, string host)
    {
        if (text[^1] == '.')
        {
            text = text[..^1];
        }

        string name;
        if (System.Text.Ascii.IsValid(text))
        {
            name = text.ToString().ToLowerInvariant();
        }
        else
        {
            try
            {
                name = new IdnMapping().GetAscii(text.ToString()).ToLowerInvariant();
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException($"'{host}' is not a valid internationalized domain name.", nameof(host), ex);
            }
        }

        if (name.Length is 0 or > MaxNameLength)
        {
            throw new ArgumentException($"'{host}' is not a valid host name.", nameof(host));
        }

        foreach (var range in name.AsSpan().Split('.'))
        {
            var label = name.AsSpan(range);
            // Underscores are not hostname characters, but they occur in real DNS names and clients accept them.
            if (label.Length is 0 or > MaxLabelLength || label.ContainsAnyExcept(LabelCharacters))
            {
                throw new ArgumentException($"'{host}' is not a valid host name.", nameof(host));
            }
        }

        return name;
    }
}
