using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxTunnel.Rewriting;

/// <summary>Parses absolute-form and authority-form targets and writes the absolute URL the app sees (SPEC §3.1–3.3).</summary>
internal static class TargetBuilder
{
    private static readonly SearchValues<byte> RegNameChars = SearchValues.Create(
        "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>Splits <c>http[s]://host[:port][/path][?query]</c>. The host keeps IPv6 brackets.</summary>
    public static RejectReason ParseAbsolute(ReadOnlySpan<byte> target, out bool https, out Range host, out int port, out Range pathAndQuery)
    {
        https = false;
        host = default;
        port = 0;
        pathAndQuery = default;
        int schemeLength;
        if (target.Length > 7 && Ascii.EqualsIgnoreCase(target[..7], "http://"u8))
        {
            schemeLength = 7;
        }
        else if (target.Length > 8 && Ascii.EqualsIgnoreCase(target[..8], "https://"u8))
        {
            schemeLength = 8;
            https = true;
        }
        else
        {
            return RejectReason.InvalidTarget;
        }

        var rest = target[schemeLength..];
        var authorityEnd = rest.IndexOfAny("/?"u8);
        if (authorityEnd < 0)
        {
            authorityEnd = rest.Length;
        }

        var reason = ParseHostPort(rest[..authorityEnd], portRequired: false, out var hostRange, out port);
        if (reason != RejectReason.None)
        {
            return reason;
        }

        if (port == 0)
        {
            port = https ? 443 : 80;
        }

        var (hostOffset, hostLength) = hostRange.GetOffsetAndLength(authorityEnd);
        if (hostLength > 1 && rest[hostOffset + hostLength - 1] == (byte)'.')
        {
            // "example.com." and "example.com" are one host; CONNECT drops the root dot too, so both routes agree.
            hostLength--;
        }

        host = new Range(schemeLength + hostOffset, schemeLength + hostOffset + hostLength);
        pathAndQuery = new Range(schemeLength + authorityEnd, target.Length);
        return RejectReason.None;
    }

    /// <summary>Parses CONNECT's authority-form <c>host:port</c>; the port is required.</summary>
    public static RejectReason ParseAuthority(ReadOnlySpan<byte> authority, out Range host, out int port)
    {
        var reason = ParseHostPort(authority, portRequired: true, out host, out port);
        return reason == RejectReason.None ? RejectReason.None : RejectReason.InvalidConnectTarget;
    }

    private static RejectReason ParseHostPort(ReadOnlySpan<byte> authority, bool portRequired, out Range host, out int port)
    {
        host = default;
        port = 0;
        int hostEnd;
        if (authority.IsEmpty || authority.Length > 260)
        {
            return RejectReason.InvalidTarget;
        }

        if (authority[0] == (byte)'[')
        {
            var close = authority.IndexOf((byte)']');
            if (close < 0 || !IsIPv6(authority[1..close]))
            {
                return RejectReason.InvalidTarget;
            }

            hostEnd = close + 1;
        }
        else
        {
            var colon = authority.IndexOf((byte)':');
            hostEnd = colon < 0 ? authority.Length : colon;
            if (!IsRegNameOrIPv4(authority[..hostEnd]))
            {
                return RejectReason.InvalidTarget;
            }
        }

        host = new Range(0, hostEnd);
        var portPart = authority[hostEnd..];
        if (portPart.IsEmpty || portPart.Length == 1 && portPart[0] == (byte)':')
        {
            return portRequired ? RejectReason.InvalidTarget : RejectReason.None;
        }

        if (portPart[0] != (byte)':')
        {
            return RejectReason.InvalidTarget;
        }

        var digits = portPart[1..];
        if (digits.Length > 5 || digits.ContainsAnyExceptInRange((byte)'0', (byte)'9')
            || !Utf8Parser.TryParse(digits, out port, out var used) || used != digits.Length || port is < 1 or > 65535)
        {
            return RejectReason.InvalidTarget;
        }

        return RejectReason.None;
    }

    /// <summary>True for a name usable as a URL host without escaping: what a TLS server name must look like to be
    /// trusted as the target's host (SNI comes from the client and can hold anything).</summary>
    public static bool IsPlainHostName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 253 || !Ascii.IsValid(name))
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[name.Length];
        Encoding.ASCII.GetBytes(name, bytes);
        return IsRegNameOrIPv4(bytes);
    }

    private static bool IsRegNameOrIPv4(ReadOnlySpan<byte> host)
    {
        if (host.IsEmpty || host.Length > 253 || host.ContainsAnyExcept(RegNameChars))
        {
            return false;
        }

        // Labels must be non-empty (a single trailing dot is the DNS root and allowed).
        var trimmed = host[^1] == (byte)'.' ? host[..^1] : host;
        return !trimmed.IsEmpty && trimmed[0] != (byte)'.' && trimmed.IndexOf(".."u8) < 0;
    }

    private static bool IsIPv6(ReadOnlySpan<byte> literal)
    {
        Span<char> chars = stackalloc char[literal.Length];
        if (literal.IsEmpty || literal.Length > 45 || Encoding.ASCII.GetChars(literal, chars) != literal.Length)
        {
            return false;
        }

        return chars.IndexOf('%') < 0 && IPAddress.TryParse(chars, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6;
    }

    /// <summary>Length of the origin <c>scheme://host[:port]</c> that <see cref="WriteOrigin"/> writes.</summary>
    public static int OriginLength(bool https, ReadOnlySpan<byte> host, int port) => (https ? 8 : 7) + AuthorityLength(https, host, port);

    /// <summary>Length of the authority <c>host[:port]</c> that <see cref="WriteAuthority"/> writes.</summary>
    public static int AuthorityLength(bool https, ReadOnlySpan<byte> host, int port)
        => host.Length + (IsDefaultPort(https, port) ? 0 : 1 + CountDigits(port));

    /// <summary>Writes <c>scheme://host[:port]</c> with the host lower-cased and the default port dropped.</summary>
    public static int WriteOrigin(Span<byte> destination, bool https, ReadOnlySpan<byte> host, int port)
    {
        var scheme = https ? "https://"u8 : "http://"u8;
        scheme.CopyTo(destination);
        return scheme.Length + WriteAuthority(destination[scheme.Length..], https, host, port);
    }

    /// <summary>Writes <c>host[:port]</c> with the host lower-cased and the scheme's default port dropped.</summary>
    public static int WriteAuthority(Span<byte> destination, bool https, ReadOnlySpan<byte> host, int port)
    {
        Ascii.ToLower(host, destination, out var written);
        if (!IsDefaultPort(https, port))
        {
            destination[written++] = (byte)':';
            Utf8Formatter.TryFormat(port, destination[written..], out var portWritten);
            written += portWritten;
        }

        return written;
    }

    /// <summary>Writes the path and query verbatim, or <c>/</c> before a query when the path is empty.</summary>
    public static int WritePathAndQuery(Span<byte> destination, ReadOnlySpan<byte> pathAndQuery)
    {
        if (pathAndQuery.IsEmpty || pathAndQuery[0] != (byte)'/')
        {
            destination[0] = (byte)'/';
            pathAndQuery.CopyTo(destination[1..]);
            return pathAndQuery.Length + 1;
        }

        pathAndQuery.CopyTo(destination);
        return pathAndQuery.Length;
    }

    public static int PathAndQueryLength(ReadOnlySpan<byte> pathAndQuery)
        => pathAndQuery.IsEmpty || pathAndQuery[0] != (byte)'/' ? pathAndQuery.Length + 1 : pathAndQuery.Length;

    public static bool IsDefaultPort(bool https, int port) => port == (https ? 443 : 80);

    /// <summary>The bracketed form used in URLs for an IPv6 host, the host lower-cased otherwise.</summary>
    public static string NormalizeHost(string host)
    {
        if (host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('['))
        {
            return "[" + host.ToLowerInvariant() + "]";
        }

        return host.ToLowerInvariant();
    }

    public static string FormatUrl(string scheme, string host, int port, string pathAndQuery)
    {
        var https = scheme == "https";
        var builder = new StringBuilder(scheme.Length + host.Length + pathAndQuery.Length + 10);
        builder.Append(scheme).Append("://").Append(host);
        if (!IsDefaultPort(https, port))
        {
            builder.Append(':').Append(port.ToString(CultureInfo.InvariantCulture));
        }

        if (pathAndQuery.Length == 0 || pathAndQuery[0] != '/')
        {
            builder.Append('/');
        }

        return builder.Append(pathAndQuery).ToString();
    }

    private static int CountDigits(int value) => value < 10 ? 1 : value < 100 ? 2 : value < 1000 ? 3 : value < 10000 ? 4 : 5;
}
