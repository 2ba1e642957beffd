using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using ProxTunnel.Urls;

namespace ProxTunnel.Rewriting;

/// <summary>
/// Parses absolute-form and authority-form targets and writes the absolute URL the app sees (SPEC §3.1–3.3), in one
/// canonical form on every route: hosts as <see cref="HostName"/> makes them (the writers canonicalize the raw host
/// bytes the parsers return), paths as <see cref="UrlPath"/> makes them (dot segments resolved, never above the root).
/// </summary>
internal static class TargetBuilder
{
    private static readonly SearchValues<byte> AuthorityEnd = SearchValues.Create("/?#\\"u8);

    private static readonly ulong HttpScheme = BinaryPrimitives.ReadUInt64LittleEndian("http://\0"u8);
    private static readonly ulong HttpsScheme = BinaryPrimitives.ReadUInt64LittleEndian("https://"u8);

    /// <summary>Splits <c>http[s]://host[:port][/path][?query]</c>. The host range is the raw host (IPv6 with brackets,
    /// one trailing dot dropped), checked to have a canonical form; write it through <see cref="WriteOrigin"/> or
    /// <see cref="WriteAuthority"/>. The path range runs to the end (a fragment there is dropped when written).</summary>
    public static RejectReason ParseAbsolute(ReadOnlySpan<byte> target, out bool https, out Range host, out int port, out Range pathAndQuery)
        => ParseAbsolute(target, out https, out host, out port, out pathAndQuery, out _);

    /// <summary>Like <see cref="ParseAbsolute(ReadOnlySpan{byte}, out bool, out Range, out int, out Range)"/>, and
    /// <paramref name="hostIsCanonical"/> tells whether the host range is canonical already (<see cref="HostName.IsCanonical"/>),
    /// so the writers may be told so and copy it. <paramref name="shortcut"/>: whether a canonical name right up to the path may be taken in one search (false only
    /// to hold that shortcut to the general path in tests).</summary>
    public static RejectReason ParseAbsolute(ReadOnlySpan<byte> target, out bool https, out Range host, out int port, out Range pathAndQuery,
        out bool hostIsCanonical, bool shortcut = true)
    {
        https = false;
        hostIsCanonical = false;
        host = default;
        port = 0;
        pathAndQuery = default;
        // The scheme a word at a time: its letters with 0x20 set are lower-case (no other byte becomes one so).
        int schemeLength;
        var word = target.Length >= 8 ? BinaryPrimitives.ReadUInt64LittleEndian(target) : 0;
        if (target.Length > 7 && ((word | 0x2020_2020) & 0x00FF_FFFF_FFFF_FFFF) == HttpScheme)
        {
            schemeLength = 7;
        }
        else if (target.Length > 8 && (word | 0x20_2020_2020) == HttpsScheme)
        {
            schemeLength = 8;
            https = true;
        }
        else
        {
            return RejectReason.InvalidTarget;
        }

        var rest = target[schemeLength..];

        // Nearly every URL: a canonical name right up to the path (no port, no userinfo), in one search.
        var run = shortcut ? HostName.CanonicalCharsLength(rest) : 0;
        if (shortcut && run > 0 && (run == rest.Length || rest[run] is (byte)'/' or (byte)'?' or (byte)'#' or (byte)'\\') && HostName.HasCanonicalLabels(rest[..run]))
        {
            hostIsCanonical = true;
            port = https ? 443 : 80;
            host = new Range(schemeLength, schemeLength + run);
            pathAndQuery = new Range(schemeLength + run, target.Length);
            return RejectReason.None;
        }

        // As in WHATWG's authority state for special schemes: a backslash and "#" end the authority too.
        var authorityEnd = rest.IndexOfAny(AuthorityEnd);
        if (authorityEnd < 0)
        {
            authorityEnd = rest.Length;
        }

        var reason = ParseHostPort(rest[..authorityEnd], portRequired: false, out var hostRange, out port, out hostIsCanonical);
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

    /// <summary>Parses CONNECT's authority-form <c>host:port</c>; the port is required unless
    /// <paramref name="portRequired"/> is false (an HTTP/2 <c>:authority</c> or a Host header), when a missing port is 0.
    /// The host range is raw; write it through <see cref="WriteOrigin"/>/<see cref="WriteAuthority"/> or
    /// <see cref="NormalizeHost"/> for its canonical form.</summary>
    public static RejectReason ParseAuthority(ReadOnlySpan<byte> authority, out Range host, out int port, bool portRequired = true)
    {
        var reason = ParseHostPort(authority, portRequired, out host, out port, out _);
        return reason == RejectReason.None ? RejectReason.None : RejectReason.InvalidConnectTarget;
    }

    private static RejectReason ParseHostPort(ReadOnlySpan<byte> authority, bool portRequired, out Range host, out int port, out bool hostIsCanonical)
    {
        host = default;
        port = 0;
        hostIsCanonical = false;
        int hostEnd;
        if (authority.IsEmpty || authority.Length > 1024)
        {
            return RejectReason.InvalidTarget;
        }

        if (HostName.IsCanonical(authority))
        {
            // The common case: a canonical name and no port (a colon is no canonical host byte), in one look.
            hostIsCanonical = true;
            host = new Range(0, authority.Length);
            return portRequired ? RejectReason.InvalidTarget : RejectReason.None;
        }

        if (authority[0] == (byte)'[')
        {
            hostEnd = authority.IndexOf((byte)']') + 1;
        }
        else
        {
            var colon = authority.IndexOf((byte)':');
            hostEnd = colon < 0 ? authority.Length : colon;
        }

        // Userinfo ("user@host") and anything else that is not a host are refused here (RFC 9110 §4.2.4).
        if (hostEnd <= 0)
        {
            return RejectReason.InvalidTarget;
        }

        hostIsCanonical = hostEnd < authority.Length && HostName.IsCanonical(authority[..hostEnd]);
        if (!hostIsCanonical && HostName.CanonicalLength(authority[..hostEnd]) < 0)
        {
            return RejectReason.InvalidTarget;
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

    /// <summary>True for a DNS name or IPv4 address (in any form <see cref="HostName"/> accepts) given as ASCII: what a
    /// TLS server name must look like to be trusted as the target's host (SNI comes from the client and can hold
    /// anything; IP literals in brackets are not server names).</summary>
    public static bool IsPlainHostName([NotNullWhen(true)] string? name) => CanonicalServerName(name) is not null;

    /// <summary>The canonical form of a TLS server name, or null when it is not a plain host name
    /// (<see cref="IsPlainHostName"/>): <c>Example.COM.</c> becomes <c>example.com</c>.</summary>
    public static string? CanonicalServerName(string? name)
        => name is not null && Ascii.IsValid(name) && HostName.TryParse(name, out var host) && host.Kind != HostKind.IPv6 ? host.Value : null;

    /// <summary>Length of the origin <c>scheme://host[:port]</c> that <see cref="WriteOrigin"/> writes.</summary>
    public static int OriginLength(bool https, ReadOnlySpan<byte> host, int port, bool hostIsCanonical = false)
        => (https ? 8 : 7) + AuthorityLength(https, host, port, hostIsCanonical);

    /// <summary>Length of the authority <c>host[:port]</c> that <see cref="WriteAuthority"/> writes.
    /// <paramref name="hostIsCanonical"/>: the caller knows <see cref="HostName.IsCanonical"/> of the host (it is copied).</summary>
    public static int AuthorityLength(bool https, ReadOnlySpan<byte> host, int port, bool hostIsCanonical = false)
        => (hostIsCanonical ? host.Length : HostLength(host)) + (IsDefaultPort(https, port) ? 0 : 1 + CountDigits(port));

    /// <summary>Writes <c>scheme://host[:port]</c> with the host canonical and the default port dropped.</summary>
    public static int WriteOrigin(Span<byte> destination, bool https, ReadOnlySpan<byte> host, int port, bool hostIsCanonical = false)
    {
        var scheme = https ? "https://"u8 : "http://"u8;
        scheme.CopyTo(destination);
        return scheme.Length + WriteAuthority(destination[scheme.Length..], https, host, port, hostIsCanonical);
    }

    /// <summary>Writes <c>host[:port]</c> with the host canonical (<see cref="HostName"/>) and the scheme's default
    /// port dropped.</summary>
    public static int WriteAuthority(Span<byte> destination, bool https, ReadOnlySpan<byte> host, int port, bool hostIsCanonical = false)
    {
        int written;
        if (hostIsCanonical)
        {
            host.CopyTo(destination);
            written = host.Length;
        }
        else
        {
            written = HostName.WriteCanonical(host, destination);
        }

        if (written < 0)
        {
            // Only hosts the parsers accepted come here; anything else keeps the old lower-casing rather than failing.
            Ascii.ToLower(host, destination, out written);
        }

        if (!IsDefaultPort(https, port))
        {
            destination[written++] = (byte)':';
            Utf8Formatter.TryFormat(port, destination[written..], out var portWritten);
            written += portWritten;
        }

        return written;
    }

    /// <summary>Writes the canonical path and query (<see cref="UrlPath"/>): dot segments resolved, never above the
    /// root, <c>\</c> as <c>/</c>, <c>/</c> for an empty path, the fragment dropped, every other byte verbatim.
    /// <paramref name="isCanonical"/>: the caller knows <see cref="UrlPath.IsCanonical"/> of it (it is copied).</summary>
    public static int WritePathAndQuery(Span<byte> destination, ReadOnlySpan<byte> pathAndQuery, bool isCanonical = false)
    {
        if (isCanonical)
        {
            pathAndQuery.CopyTo(destination);
            return pathAndQuery.Length;
        }

        return UrlPath.Write(pathAndQuery, destination);
    }

    /// <summary>Length of what <see cref="WritePathAndQuery"/> writes.</summary>
    public static int PathAndQueryLength(ReadOnlySpan<byte> pathAndQuery, bool isCanonical = false)
        => isCanonical ? pathAndQuery.Length : UrlPath.CanonicalLength(pathAndQuery);

    public static bool IsDefaultPort(bool https, int port) => port == (https ? 443 : 80);

    /// <summary>The canonical host (<see cref="HostName"/>: IPv6 in brackets, with or without them on input); a string
    /// that is no host is lower-cased (and bracketed when it holds a colon), as before.</summary>
    public static string NormalizeHost(string host)
    {
        var bracketed = host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? "[" + host + "]" : host;
        if (HostName.TryParse(bracketed, out var canonical))
        {
            return canonical.Value;
        }

        return bracketed.ToLowerInvariant();
    }

    /// <summary>The absolute URL a resolver sees; host as given (callers pass a canonical one), path canonical.</summary>
    public static string FormatUrl(string scheme, string host, int port, string pathAndQuery)
    {
        var https = scheme == "https";
        var builder = new StringBuilder(scheme.Length + host.Length + pathAndQuery.Length + 10);
        builder.Append(scheme).Append("://").Append(host);
        if (!IsDefaultPort(https, port))
        {
            builder.Append(':').Append(port.ToString(CultureInfo.InvariantCulture));
        }

        return builder.Append(CanonicalPathAndQuery(pathAndQuery)).ToString();
    }

    /// <summary>The string form of <see cref="WritePathAndQuery"/> (bytes as Latin-1 characters, one to one).</summary>
    public static string CanonicalPathAndQuery(string pathAndQuery)
    {
        var raw = Encoding.Latin1.GetBytes(pathAndQuery);
        var canonical = new byte[UrlPath.CanonicalLength(raw)];
        UrlPath.Write(raw, canonical);
        return Encoding.Latin1.GetString(canonical);
    }

    private static int HostLength(ReadOnlySpan<byte> host)
    {
        var length = HostName.CanonicalLength(host);
        return length < 0 ? host.Length : length;
    }

    private static int CountDigits(int value) => value < 10 ? 1 : value < 100 ? 2 : value < 1000 ? 3 : value < 10000 ? 4 : 5;
}
