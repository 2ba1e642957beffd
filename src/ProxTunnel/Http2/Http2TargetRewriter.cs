using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using ProxTunnel.Diagnostics;
using ProxTunnel.Resolvers;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Http2;

/// <summary>The <c>:path</c> Kestrel gets for one request stream, in a rented array, or why the connection must end.</summary>
internal readonly record struct Http2Target(byte[]? Buffer, int Length, Http2ErrorCode Error, string? Reason)
{
    public static Http2Target Fail(Http2ErrorCode error, string reason) => new(null, 0, error, reason);

    public ReadOnlySpan<byte> Path => Buffer.AsSpan(0, Length);
}

/// <summary>
/// Builds each request stream's target as SPEC §3.9 says: <c>&lt;prefix&gt;https://&lt;authority&gt;&lt;path&gt;</c> with the
/// authority from <c>:authority</c>, else <c>host</c>, else the tunnel, canonicalised by <see cref="TargetBuilder"/>
/// exactly as for HTTP/1.1. Extra proxy hosts get their path unprefixed; the library's own pages are HTTP/1.1 only.
/// </summary>
internal sealed class Http2TargetRewriter
{
    private static ReadOnlySpan<byte> HttpsScheme => "https://"u8;

    private readonly RewriteSettings _settings;
    private readonly TunnelTarget _tunnel;
    private readonly string _connectionId;
    private readonly int _tunnelHostKind;
    private ProxyRequestContext? _context;

    public Http2TargetRewriter(RewriteSettings settings, TunnelTarget tunnel, string connectionId)
    {
        _settings = settings;
        _tunnel = tunnel;
        _connectionId = connectionId;
        _tunnelHostKind = settings.ClassifyHost(tunnel.Host);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Http2Target> RewriteAsync(HeaderFieldList fields, CancellationToken cancellationToken)
    {
        var request = RequestFields.Find(fields);
        if (request.Path < 0)
        {
            return Http2Target.Fail(Http2ErrorCode.ProtocolError,
                request.Method >= 0 && fields.Value(fields[request.Method]).SequenceEqual("CONNECT"u8) ? "CONNECT inside a tunnel" : "a request without :path");
        }

        if (request.Misplaced)
        {
            // Moving :path first would turn a malformed request (RFC 9113 §8.3) into a well-formed one: refuse it.
            return Http2Target.Fail(Http2ErrorCode.ProtocolError, "a repeated :path or one after a regular field");
        }

        var path = fields.Value(fields[request.Path]);
        if (path.IsEmpty || path[0] != (byte)'/')
        {
            return Http2Target.Fail(Http2ErrorCode.ProtocolError, "a :path that is not origin-form");
        }

        var authority = request.Authority >= 0 ? fields.Value(fields[request.Authority]) : default;
        if (authority.IsEmpty && request.Host >= 0)
        {
            authority = fields.Value(fields[request.Host]);
        }

        // Scratch holds "https://" + authority + path, parsed by the same code as HTTP/1.1 absolute-form targets.
        var url = ArrayPool<byte>.Shared.Rent(HttpsScheme.Length + Math.Max(authority.Length, _tunnel.Origin.Length) + path.Length);
        try
        {
            int urlLength;
            if (authority.IsEmpty)
            {
                _tunnel.Origin.CopyTo(url, 0);
                urlLength = _tunnel.Origin.Length;
            }
            else
            {
                if (authority.IndexOfAny("/?#"u8) >= 0)
                {
                    return Http2Target.Fail(Http2ErrorCode.ProtocolError, "an invalid :authority");
                }

                HttpsScheme.CopyTo(url);
                authority.CopyTo(url.AsSpan(HttpsScheme.Length));
                urlLength = HttpsScheme.Length + authority.Length;
            }

            path.CopyTo(url.AsSpan(urlLength));
            urlLength += path.Length;
            if (TargetBuilder.ParseAbsolute(url.AsSpan(0, urlLength), out _, out var hostRange, out var port, out var pathRange) != RejectReason.None)
            {
                return Http2Target.Fail(Http2ErrorCode.ProtocolError, "an invalid :authority");
            }

            var host = url.AsSpan(0, urlLength)[hostRange];
            var pathAndQuery = url.AsSpan(0, urlLength)[pathRange];
            var kind = authority.IsEmpty ? _tunnelHostKind : _settings.ClassifyHost(host);
            switch (RequestRouter.RouteProxied(kind, pathAndQuery, _settings, out _))
            {
                case RouteKind.ProxyPage:
                    // The library answers its own pages over HTTP/1.1 only: the client retries there (RFC 9113 §8.1).
                    return Http2Target.Fail(Http2ErrorCode.Http11Required, "a proxy host page asked for over HTTP/2");
                case RouteKind.ProxyHostPath:
                    return Build(ReadOnlySpan<byte>.Empty, host, port, pathAndQuery, withOrigin: false);
                case RouteKind.Prefixed:
                    _settings.Metrics.RequestsRewritten.Add(1);
                    return Build(_settings.FixedPrefix!, host, port, pathAndQuery, withOrigin: true);
            }

            var context = _context ??= new ProxyRequestContext();
            context.Set(Latin1(fields.Value(fields[Math.Max(request.Method, 0)]), request.Method >= 0), "https",
                TargetBuilder.NormalizeHost(Encoding.ASCII.GetString(host)), port, Encoding.Latin1.GetString(pathAndQuery), Headers(fields), _tunnel.ConnectHeaders);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(url);
        }

        return await ResolveAsync(cancellationToken);
    }

    private async ValueTask<Http2Target> ResolveAsync(CancellationToken cancellationToken)
    {
        var resolution = await PrefixResolution.ResolveAsync(_settings, _context!, _connectionId, cancellationToken);
        if (resolution.ChallengeRealm is not null)
        {
            // A 407 cannot be answered on a stream without racing Kestrel's writes: the client retries over HTTP/1.1,
            // where it gets the challenge.
            return Http2Target.Fail(Http2ErrorCode.Http11Required, "the prefix resolver asked for credentials");
        }

        if (resolution.Target is not { } target)
        {
            return Http2Target.Fail(Http2ErrorCode.InternalError, "the prefix resolver failed or returned an invalid target");
        }

        _settings.Metrics.RequestsRewritten.Add(1);
        var buffer = ArrayPool<byte>.Shared.Rent(target.Length);
        var length = Encoding.ASCII.GetBytes(target, buffer);
        return new Http2Target(buffer, length, Http2ErrorCode.NoError, null);
    }

    private static Http2Target Build(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> host, int port, ReadOnlySpan<byte> pathAndQuery, bool withOrigin)
    {
        var originLength = withOrigin ? TargetBuilder.OriginLength(true, host, port) : 0;
        var buffer = ArrayPool<byte>.Shared.Rent(prefix.Length + originLength + TargetBuilder.PathAndQueryLength(pathAndQuery));
        var span = buffer.AsSpan();
        prefix.CopyTo(span);
        var written = prefix.Length;
        if (withOrigin)
        {
            written += TargetBuilder.WriteOrigin(span[written..], true, host, port);
        }

        written += TargetBuilder.WritePathAndQuery(span[written..], pathAndQuery);
        return new Http2Target(buffer, written, Http2ErrorCode.NoError, null);
    }

    private static string Latin1(ReadOnlySpan<byte> value, bool present) => present ? Encoding.Latin1.GetString(value) : "";

    /// <summary>Regular fields for the resolver, repeated names joined with <c>, </c> as for HTTP/1.1.</summary>
    private static Dictionary<string, string> Headers(HeaderFieldList fields)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < fields.Count; i++)
        {
            ref readonly var field = ref fields[i];
            var name = fields.Name(field);
            if (name.IsEmpty || name[0] == (byte)':')
            {
                continue;
            }

            var key = Encoding.Latin1.GetString(name);
            var value = Encoding.Latin1.GetString(fields.Value(field));
            headers[key] = headers.TryGetValue(key, out var earlier) ? earlier + ", " + value : value;
        }

        return headers;
    }

    /// <summary>Where the fields that decide the target sit in a block; -1 when absent (first occurrence wins).
    /// <see cref="Misplaced"/>: <c>:path</c> repeated or after a regular field.</summary>
    private readonly record struct RequestFields(int Method, int Path, int Authority, int Host, bool Misplaced)
    {
        public static RequestFields Find(HeaderFieldList fields)
        {
            int method = -1, path = -1, authority = -1, host = -1;
            var misplaced = false;
            var regular = false;
            for (var i = 0; i < fields.Count; i++)
            {
                ref readonly var field = ref fields[i];
                regular |= field.NameLength == 0 || fields.Name(field)[0] != (byte)':';
                switch (field.StaticName)
                {
                    case HpackStaticTable.Method:
                        method = method < 0 ? i : method;
                        break;
                    case HpackStaticTable.Path:
                        misplaced |= path >= 0 || regular;
                        path = path < 0 ? i : path;
                        break;
                    case HpackStaticTable.Authority:
                        authority = authority < 0 ? i : authority;
                        break;
                    case HpackStaticTable.Host:
                        host = host < 0 ? i : host;
                        break;
                }
            }

            return new RequestFields(method, path, authority, host, misplaced);
        }
    }
}
