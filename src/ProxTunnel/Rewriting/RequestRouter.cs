namespace ProxTunnel.Rewriting;

/// <summary>
/// Decides what becomes of a parsed head (SPEC §3.1–§3.4, §4): a pure function of the head, the tunnel it arrived in,
/// and the listener's settings. It reads and allocates nothing else.
/// </summary>
internal static class RequestRouter
{
    /// <param name="head">The head's bytes.</param>
    /// <param name="parsed">The head as <see cref="RequestHeadParser"/> parsed it.</param>
    /// <param name="tunnel">The tunnel the head arrived in, or null on a plain proxy connection.</param>
    /// <param name="tunnelHostKind"><see cref="RewriteSettings.ClassifyHost(string)"/> of the tunnel's host (0 outside one).</param>
    /// <param name="settings">The listener's settings: proxy hosts, pages, fixed prefix.</param>
    public static HeadRoute Route(ReadOnlySpan<byte> head, RequestHead parsed, TunnelTarget? tunnel, int tunnelHostKind, RewriteSettings settings)
    {
        var target = parsed.Target(head);
        if (parsed.IsConnect)
        {
            return tunnel is null ? new HeadRoute(RouteKind.Connect) : HeadRoute.Refused(RejectReason.ConnectInsideTunnel);
        }

        bool https;
        int port;
        Range host;
        Range pathAndQuery;
        int kind;
        var hostIsCanonical = false;
        if (target[0] == (byte)'/' && tunnel is not null)
        {
            https = tunnel.Https;
            port = tunnel.Port;
            host = default;
            pathAndQuery = new Range(parsed.TargetStart, parsed.TargetStart + parsed.TargetLength);
            kind = tunnelHostKind;
        }
        else if (target[0] == (byte)'/' || (target.Length == 1 && target[0] == (byte)'*' && tunnel is null))
        {
            return new HeadRoute(RouteKind.Verbatim);
        }
        else
        {
            var reason = TargetBuilder.ParseAbsolute(target, out https, out var hostInTarget, out port, out var pathInTarget, out hostIsCanonical);
            if (reason != RejectReason.None)
            {
                return HeadRoute.Refused(reason);
            }

            host = Shift(hostInTarget, parsed.TargetStart);
            pathAndQuery = Shift(pathInTarget, parsed.TargetStart);
            kind = hostIsCanonical ? settings.ClassifyCanonicalHost(head[host]) : settings.ClassifyHost(head[host]);
        }

        var route = RouteProxied(kind, head[pathAndQuery], settings, out var page);
        return new HeadRoute(route, https, port, host, pathAndQuery, Page: page, HostIsCanonical: hostIsCanonical);
    }

    /// <summary>
    /// The route of a proxied URL once its host is classified, for HTTP/1.1 heads and HTTP/2 streams alike (SPEC §3.4):
    /// one of the library's own pages (<paramref name="page"/>), another path on a proxy host, or a URL that gets the
    /// fixed prefix or goes to the resolver. <c>hostKind</c> is <see cref="RewriteSettings.ClassifyHost(string)"/> of the URL's host.
    /// </summary>
    public static RouteKind RouteProxied(int hostKind, ReadOnlySpan<byte> pathAndQuery, RewriteSettings settings, out byte[]? page)
    {
        page = null;
        if (hostKind == 0)
        {
            return settings.FixedPrefix is null ? RouteKind.Resolve : RouteKind.Prefixed;
        }

        page = hostKind == 1 ? settings.Pages?.Find(pathAndQuery) : null;
        return page is null ? RouteKind.ProxyHostPath : RouteKind.ProxyPage;
    }

    /// <summary>A range of the target (ParseAbsolute's are from its start) as a range of the head.</summary>
    private static Range Shift(Range range, int by) => new(range.Start.Value + by, range.End.Value + by);
}
