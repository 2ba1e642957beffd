using ProxTunnel.Rewriting;

namespace ProxTunnel.Resolvers;

/// <summary>
/// What a <see cref="IProxyPrefixResolver"/> knows of one proxied request. The instance is reused for the next request
/// on the connection: read it only until <see cref="IProxyPrefixResolver.ResolveAsync"/> completes.
/// </summary>
public sealed class ProxyRequestContext
{
    private ReadOnlyMemory<byte> _head;
    private RequestHead? _parsed;
    private string? _absoluteUrl;

    internal ProxyRequestContext()
    {
    }

    /// <summary>Request method, e.g. <c>GET</c> or <c>CONNECT</c>.</summary>
    public string Method { get; private set; } = "";

    /// <summary><c>http</c> or <c>https</c>.</summary>
    public string Scheme { get; private set; } = "";

    /// <summary>The target's host, canonical: lower-case punycode without a trailing dot, IPv4 dotted decimal, IPv6
    /// compressed in brackets (<c>[::1]</c>), so it can go into a URL or a Host header as it is.</summary>
    public string Host { get; private set; } = "";

    /// <summary>Port, the scheme's default when the URL names none.</summary>
    public int Port { get; private set; }

    /// <summary>Path and query in canonical form (<c>/</c> when empty; dot segments resolved as browsers do, never above
    /// the root; every other byte as the client sent it, not decoded); empty for CONNECT.</summary>
    public string PathAndQuery { get; private set; } = "";

    /// <summary>True inside a CONNECT tunnel, and for the CONNECT request itself.</summary>
    public bool IsTunnel { get; private set; }

    /// <summary>The absolute URL: scheme, host, the port when not the default, path and query.</summary>
    public string AbsoluteUrl => _absoluteUrl ??= TargetBuilder.FormatUrl(Scheme, Host, Port, PathAndQuery);

    /// <summary>Headers of the CONNECT request that opened the tunnel, or null outside a tunnel.</summary>
    public IReadOnlyDictionary<string, string>? ConnectHeaders { get; private set; }

    /// <summary>The request's <c>Proxy-Authorization</c>, else (in a tunnel) the CONNECT request's, else null.</summary>
    public string? ProxyAuthorization
    {
        get
        {
            var own = GetRequestHeader("Proxy-Authorization");
            if (own is not null)
            {
                return own;
            }

            return ConnectHeaders is not null && ConnectHeaders.TryGetValue("Proxy-Authorization", out var fromConnect) ? fromConnect : null;
        }
    }

    /// <summary>The first value of a request header (case-insensitive name), or null.</summary>
    public string? GetRequestHeader(string name) => _parsed?.GetHeader(_head.Span, name);

    /// <summary>Every request header, repeated names joined with <c>, </c>.</summary>
    public IReadOnlyDictionary<string, string> GetRequestHeaders()
        => _parsed?.ToDictionary(_head.Span) ?? new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    internal void Set(ReadOnlyMemory<byte> head, RequestHead parsed, string scheme, string host, int port, string pathAndQuery,
        bool isTunnel, IReadOnlyDictionary<string, string>? connectHeaders)
    {
        _head = head;
        _parsed = parsed;
        _absoluteUrl = null;
        Method = KnownMethods.GetString(parsed.Method(head.Span));
        Scheme = scheme;
        Host = host;
        Port = port;
        PathAndQuery = pathAndQuery.Length == 0 ? "" : TargetBuilder.CanonicalPathAndQuery(pathAndQuery);
        IsTunnel = isTunnel;
        ConnectHeaders = connectHeaders;
    }

    internal void Clear()
    {
        _head = default;
        _parsed = null;
    }
}
