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
    private IReadOnlyDictionary<string, string>? _headers;

    internal ProxyRequestContext()
    {
    }

    /// <summary>Request method, e.g. <c>GET</c> or <c>CONNECT</c>.</summary>
    public string Method { get; private set; } = "";

    /// <summary><c>http</c> or <c>https</c>.</summary>
    public string Scheme { get; private set; } = "";

    /// <summary>Lower-case host; IPv6 literals keep their brackets.</summary>
    public string Host { get; private set; } = "";

    /// <summary>Port, the scheme's default when the URL names none.</summary>
    public int Port { get; private set; }

    /// <summary>Path and query exactly as the client sent them (<c>/</c> when empty); empty for CONNECT.</summary>
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
    public string? GetRequestHeader(string name)
        => _parsed?.GetHeader(_head.Span, name) ?? (_headers is not null && _headers.TryGetValue(name, out var value) ? value : null);

    /// <summary>Every request header, repeated names joined with <c>, </c>.</summary>
    public IReadOnlyDictionary<string, string> GetRequestHeaders()
        => _parsed?.ToDictionary(_head.Span) ?? _headers ?? new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    internal void Set(ReadOnlyMemory<byte> head, RequestHead parsed, string scheme, string host, int port, string pathAndQuery,
        bool isTunnel, IReadOnlyDictionary<string, string>? connectHeaders)
    {
        SetRequest(KnownMethods.GetString(parsed.Method(head.Span)), scheme, host, port, pathAndQuery, isTunnel, connectHeaders);
        _head = head;
        _parsed = parsed;
    }

    /// <summary>For an HTTP/2 request stream (always in a tunnel): its fields come decoded, as a dictionary.</summary>
    internal void Set(string method, string scheme, string host, int port, string pathAndQuery,
        IReadOnlyDictionary<string, string> headers, IReadOnlyDictionary<string, string>? connectHeaders)
    {
        SetRequest(method, scheme, host, port, pathAndQuery, isTunnel: true, connectHeaders);
        _headers = headers;
    }

    private void SetRequest(string method, string scheme, string host, int port, string pathAndQuery, bool isTunnel,
        IReadOnlyDictionary<string, string>? connectHeaders)
    {
        _head = default;
        _parsed = null;
        _headers = null;
        _absoluteUrl = null;
        Method = method;
        Scheme = scheme;
        Host = host;
        Port = port;
        PathAndQuery = pathAndQuery;
        IsTunnel = isTunnel;
        ConnectHeaders = connectHeaders;
    }

    internal void Clear()
    {
        _headers = null;
        _head = default;
        _parsed = null;
    }
}
