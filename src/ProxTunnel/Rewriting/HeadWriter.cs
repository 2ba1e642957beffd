using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;

namespace ProxTunnel.Rewriting;

/// <summary>
/// Writes the head Kestrel gets: the request line with the planned target, the header lines with
/// <c>Proxy-Authorization</c> and <c>Proxy-Connection</c> dropped and Host per <see cref="HeadPlan.HostSource"/>, every
/// other byte copied verbatim. A pure function of the head and the plan.
/// </summary>
internal static class HeadWriter
{
    public static HostSource ChooseHostSource(ReadOnlySpan<byte> head, RequestHead parsed, TargetShape shape, ReadOnlySpan<byte> urlHost, bool https, int port,
        bool hostIsCanonical = false)
    {
        if (shape == TargetShape.Verbatim)
        {
            return HostSource.Client;
        }

        if (!urlHost.IsEmpty)
        {
            // The client's Host stays when it already names the URL's authority (host names are case-insensitive).
            return parsed.HostLine >= 0 && NamesAuthority(RequestHead.Value(head, parsed.Lines[parsed.HostLine]), urlHost, https, port, hostIsCanonical)
                ? HostSource.Client
                : HostSource.Url;
        }

        // Inside a tunnel: a proxy host's paths always name that host; otherwise the client's Host stays unless
        // Kestrel would refuse it (or it is missing).
        if (shape == TargetShape.ProxyHostPath || parsed.HostLine < 0)
        {
            return HostSource.Tunnel;
        }

        return KestrelHostRule.Accepts(RequestHead.Value(head, parsed.Lines[parsed.HostLine])) ? HostSource.Client : HostSource.Tunnel;
    }

    /// <summary>True when <paramref name="value"/> is, ignoring case, the authority the URL builder writes for the host and port.</summary>
    private static bool NamesAuthority(ReadOnlySpan<byte> value, ReadOnlySpan<byte> host, bool https, int port, bool hostIsCanonical)
    {
        if (hostIsCanonical)
        {
            // The writer would copy the host: compare in place, then the port it would write (none for the default).
            // Clients send the host as it is in the URL nearly always: the exact compare first.
            if (value.Length < host.Length || !(value[..host.Length].SequenceEqual(host) || Ascii.EqualsIgnoreCase(value[..host.Length], host)))
            {
                return false;
            }

            var rest = value[host.Length..];
            if (TargetBuilder.IsDefaultPort(https, port))
            {
                return rest.IsEmpty;
            }

            return rest.Length > 1 && rest[0] == (byte)':' && NamesPort(rest[1..], port);
        }

        return NamesAuthoritySlow(value, host, https, port);
    }

    // The port's digits and the general compare in methods of their own: inlined, their stack buffers would be cleared
    // on every call of the hot path that inlines NamesAuthority.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool NamesPort(ReadOnlySpan<byte> digits, int port)
    {
        Span<byte> formatted = stackalloc byte[8];
        return Utf8Formatter.TryFormat(port, formatted, out var length) && digits.SequenceEqual(formatted[..length]);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool NamesAuthoritySlow(ReadOnlySpan<byte> value, ReadOnlySpan<byte> host, bool https, int port)
    {
        const int MaxCompared = 256;
        if (value.Length > MaxCompared || TargetBuilder.AuthorityLength(https, host, port) > MaxCompared)
        {
            return false;
        }

        Span<byte> authority = stackalloc byte[MaxCompared];
        var length = TargetBuilder.WriteAuthority(authority, https, host, port);
        return Ascii.EqualsIgnoreCase(value, authority[..length]);
    }

    /// <summary>An upper bound of what <see cref="Write"/> writes.</summary>
    public static int MaxLength(ReadOnlySpan<byte> head, in HeadPlan plan)
    {
        var originLength = plan.Shape != TargetShape.Prefixed ? 0
            : plan.Host.IsEmpty ? plan.Tunnel!.Origin.Length
            : TargetBuilder.OriginLength(plan.Https, plan.Host, plan.Port, plan.HostIsCanonical);
        var pathLength = plan.Shape is TargetShape.Prefixed or TargetShape.ProxyHostPath
            ? TargetBuilder.PathAndQueryLength(plan.PathAndQuery, plan.PathIsCanonical)
            : 0;
        var hostLineLength = plan.HostSource switch
        {
            HostSource.Url => "Host: \r\n"u8.Length + TargetBuilder.AuthorityLength(plan.Https, plan.Host, plan.Port, plan.HostIsCanonical),
            HostSource.Tunnel => "Host: \r\n"u8.Length + plan.Tunnel!.Authority.Length,
            _ => 0,
        };
        return head.Length + plan.Prefix.Length + originLength + pathLength + hostLineLength;
    }

    /// <summary>Writes the head into <paramref name="destination"/> (at least <see cref="MaxLength"/> long); returns its length.</summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> head, RequestHead parsed, in HeadPlan plan)
    {
        var written = parsed.MethodLength + 1;
        head[..written].CopyTo(destination);
        if (plan.Shape == TargetShape.Verbatim)
        {
            head.Slice(parsed.TargetStart, parsed.TargetLength).CopyTo(destination[written..]);
            written += parsed.TargetLength;
        }
        else
        {
            plan.Prefix.CopyTo(destination[written..]);
            written += plan.Prefix.Length;
        }

        if (plan.Shape == TargetShape.Prefixed)
        {
            if (plan.Host.IsEmpty)
            {
                plan.Tunnel!.Origin.CopyTo(destination[written..]);
                written += plan.Tunnel.Origin.Length;
            }
            else
            {
                written += TargetBuilder.WriteOrigin(destination[written..], plan.Https, plan.Host, plan.Port, plan.HostIsCanonical);
            }
        }

        if (plan.Shape is TargetShape.Prefixed or TargetShape.ProxyHostPath)
        {
            written += TargetBuilder.WritePathAndQuery(destination[written..], plan.PathAndQuery, plan.PathIsCanonical);
        }

        // " HTTP/1.x\r\n": the parser takes no other version, so a copy of constant length (no call).
        const int VersionLength = 11;
        head.Slice(parsed.TargetStart + parsed.TargetLength, VersionLength).CopyTo(destination[written..]);
        written += VersionLength;

        var replaceHost = plan.HostSource != HostSource.Client;
        var copyFrom = parsed.RequestLineEnd;
        var lines = parsed.Lines;

        // Only the lines from the first one to drop or replace on are looked at; once the last is done, the rest is one copy.
        var replaceLine = replaceHost ? parsed.HostLine : -1;
        var first = parsed.RemovedCount == 0 ? replaceLine : replaceLine < 0 ? parsed.FirstRemoved : Math.Min(replaceLine, parsed.FirstRemoved);
        var pending = parsed.RemovedCount + (replaceLine >= 0 ? 1 : 0);
        for (var i = Math.Max(first, 0); pending > 0 && i < lines.Length; i++)
        {
            ref readonly var line = ref lines[i];
            var replace = i == replaceLine;
            if (line.Remove || replace)
            {
                pending--;
                head[copyFrom..line.Start].CopyTo(destination[written..]);
                written += line.Start - copyFrom;
                copyFrom = line.End;
            }

            if (replace)
            {
                written += WriteHostLine(destination[written..], plan);
            }
        }

        if (replaceHost && parsed.HostLine < 0)
        {
            head[copyFrom..^2].CopyTo(destination[written..]);
            written += head.Length - 2 - copyFrom;
            copyFrom = head.Length - 2;
            written += WriteHostLine(destination[written..], plan);
        }

        head[copyFrom..].CopyTo(destination[written..]);
        return written + head.Length - copyFrom;
    }

    private static int WriteHostLine(Span<byte> destination, in HeadPlan plan)
    {
        "Host: "u8.CopyTo(destination);
        var written = 6;
        if (plan.HostSource == HostSource.Tunnel)
        {
            var authority = plan.Tunnel!.Authority.Span;
            authority.CopyTo(destination[written..]);
            written += authority.Length;
        }
        else
        {
            written += TargetBuilder.WriteAuthority(destination[written..], plan.Https, plan.Host, plan.Port, plan.HostIsCanonical);
        }

        "\r\n"u8.CopyTo(destination[written..]);
        return written + 2;
    }
}
