using System.Security.Cryptography;
using System.Text;

namespace ProxTunnel.Tests.Hardening;

/// <summary>How the generated requests travel: absolute-form on a plain proxy connection, or origin-form in a tunnel.</summary>
public enum FuzzMode
{
    Absolute,
    PlainTunnel,
    TlsTunnel,

    /// <summary>Absolute-form streams, then a CONNECT on the same connection, then a plain tunnel's streams (SPEC §3.10).</summary>
    ConnectAfterRequests,
}

/// <summary>What the generator meant one message to be.</summary>
internal enum MessageKind
{
    /// <summary>A request a correct server handles: the app sees it with <see cref="GeneratedMessage.ExpectedTarget"/> and the body.</summary>
    Valid,

    /// <summary>A head the proxy must refuse with <see cref="GeneratedMessage.ExpectedStatus"/>; it never reaches the app.</summary>
    InvalidHead,

    /// <summary>A valid head whose chunked body is broken: the app may see the head, never a completed body, never what follows.</summary>
    InvalidBody,

    /// <summary>A CONNECT the proxy answers with 200 itself; what follows is inside the tunnel.</summary>
    Connect,
}

/// <summary>One request the generator wrote, with what a correct proxy turns it into.</summary>
internal sealed class GeneratedMessage
{
    public required MessageKind Kind { get; init; }

    public required string Method { get; init; }

    /// <summary>The target the app must see (already prefixed); empty for <see cref="MessageKind.InvalidHead"/>.</summary>
    public required string ExpectedTarget { get; init; }

    /// <summary>The decoded body the app must read (valid messages).</summary>
    public byte[] Body { get; init; } = [];

    /// <summary>What the client sends (head and framed body; for invalid messages also the smuggled request after it).</summary>
    public required byte[] Wire { get; init; }

    /// <summary>What Kestrel must get from the rewriter: the rewritten head and the framed body, byte for byte.</summary>
    public byte[] Rewritten { get; init; } = [];

    /// <summary>For <see cref="MessageKind.InvalidBody"/>: the rewritten head (always handed out) and the framed body (a prefix of it may be).</summary>
    public byte[] RewrittenHead { get; init; } = [];

    public byte[] FramedBody { get; init; } = [];

    /// <summary>The status the proxy answers an invalid head with.</summary>
    public int ExpectedStatus { get; init; }

    /// <summary>The server closes the connection after answering this request (HTTP/1.0, Connection: close).</summary>
    public bool ClosesConnection { get; init; }

    /// <summary>The request asks for an upgrade (declined by the app); nothing may follow it in a stream.</summary>
    public bool IsUpgrade { get; init; }

    public required string Description { get; init; }

    public string BodySha256 => Convert.ToHexStringLower(SHA256.HashData(Body));
}

/// <summary>A request stream: messages in order; only the last may be invalid or close the connection.</summary>
internal sealed class GeneratedStream
{
    public List<GeneratedMessage> Messages { get; } = [];

    /// <summary>Bytes between messages (optional CRLFs), already folded into <see cref="Wire"/>.</summary>
    public byte[] Wire { get; set; } = [];

    public int InvalidAt => Messages.FindIndex(m => m.Kind != MessageKind.Valid);

    public bool EndsConnection => Messages.Count > 0 && Messages[^1] is { } last && (last.Kind != MessageKind.Valid || last.ClosesConnection || last.IsUpgrade);

    public string Describe() => string.Join(" | ", Messages.Select(m => $"{m.Kind}:{m.Description}"));
}

/// <summary>
/// A seeded generator of HTTP/1.1 request streams, valid, edge and hostile, that knows what every stream meant.
/// Every path carries a marker <c>/c{connection}/</c> so the requests of parallel connections can be told apart at the app.
/// </summary>
internal sealed class RequestStreamGenerator
{
    public const string Prefix = "/p/";

    private static readonly string[] Methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

    private readonly Random _random;
    private readonly FuzzMode _mode;
    private readonly bool _allowUpgrade;
    private int _requestCounter;

    public RequestStreamGenerator(int seed, FuzzMode mode, bool allowUpgrade)
    {
        _random = new Random(seed);
        _mode = mode;
        _allowUpgrade = allowUpgrade;
    }

    public Random Random => _random;

    /// <summary>
    /// A stream of 1–5 messages on connection <paramref name="connection"/>. With <paramref name="mayEnd"/> false the stream is
    /// all valid and keeps the connection open (so more streams can follow on it).
    /// </summary>
    public GeneratedStream Next(int connection, bool mayEnd)
    {
        var stream = new GeneratedStream();
        var wire = new List<byte>();
        var count = _random.Next(1, 6);
        for (var i = 0; i < count; i++)
        {
            var last = i == count - 1;
            GeneratedMessage message;
            var roll = _random.Next(100);
            if (last && mayEnd && roll < 18)
            {
                message = HostileHead(connection);
            }
            else if (last && mayEnd && roll < 30)
            {
                message = HostileChunkedBody(connection);
            }
            else if (last && mayEnd && roll < 38)
            {
                message = ValidRequest(connection, terminal: true);
            }
            else
            {
                message = ValidRequest(connection, terminal: false);
            }

            stream.Messages.Add(message);
            wire.AddRange(message.Wire);
            if (!last && _random.Next(6) == 0)
            {
                // RFC 9112 §2.2: empty lines before a request line are ignored (clients send CRLF after a body).
                wire.AddRange("\r\n"u8.ToArray());
            }
        }

        stream.Wire = [.. wire];
        return stream;
    }

    /// <summary>A stream of one CONNECT to <paramref name="authority"/> (answered by the proxy, never seen by the app).</summary>
    public static GeneratedStream Connect(string authority)
    {
        var wire = Encoding.ASCII.GetBytes($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        var stream = new GeneratedStream { Wire = wire };
        stream.Messages.Add(new GeneratedMessage { Kind = MessageKind.Connect, Method = "CONNECT", ExpectedTarget = "", Wire = wire, Description = "connect " + authority });
        return stream;
    }

    /// <summary>
    /// True when the URL builder resolves dot segments (SPEC §3.1, the "url" branch's TargetBuilder): only then are
    /// dot-segment paths generated, with the WHATWG result as the expectation.
    /// </summary>
    private static readonly bool DotSegmentsResolved = ProbeDotSegments();

    /// <summary>Dot-segment vectors after the connection marker, and what WHATWG resolution makes of them.</summary>
    private static readonly (string Wire, string Expected)[] DotSegmentVectors =
    [
        ("/x/../y", "/y"),
        ("/./y", "/y"),
        ("/x/%2e%2e/y", "/y"),
        ("/x/.%2E/y", "/y"),
        ("/x/%2E./y", "/y"),
        ("/x/%2e/y", "/x/y"),
        ("/x/y/..", "/x/"),
        ("/x/.", "/x/"),
        ("/x/..?q=/../", "/?q=/../"),
        ("/x/..%2f", "/x/..%2f"),
    ];

    /// <summary>The path and query the client sends and the one inside the URL the app must see.</summary>
    private (string Wire, string Expected) Path(int connection)
    {
        var n = Interlocked.Increment(ref _requestCounter);
        var path = $"/c{connection}/r{n}";
        switch (_random.Next(DotSegmentsResolved ? 5 : 4))
        {
            case 0:
                path += "?q=" + _random.Next(1000) + "&x=%41%2F+y";
                break;
            case 1:
                path += "/sub;param=1/%7Euser";
                break;
            case 2:
                path += "?a=GET%20/c" + connection + "/inner%20HTTP/1.1";
                break;
            case 4:
                var (wire, expected) = DotSegmentVectors[_random.Next(DotSegmentVectors.Length)];
                return (path + wire, path + expected);
        }

        return (path, path);
    }

    private static bool ProbeDotSegments()
    {
        var probe = "/a/../b"u8;
        var output = new byte[ProxTunnel.Rewriting.TargetBuilder.PathAndQueryLength(probe) + 8];
        var written = ProxTunnel.Rewriting.TargetBuilder.WritePathAndQuery(output, probe);
        return output.AsSpan(0, written).SequenceEqual("/b"u8);
    }

    /// <summary>The target the client sends and the one the app must see.</summary>
    private (string Wire, string Expected) Target((string Wire, string Expected) path)
    {
        switch (_mode)
        {
            case FuzzMode.PlainTunnel:
                return (path.Wire, Prefix + "http://example.com" + path.Expected);
            case FuzzMode.TlsTunnel:
                return (path.Wire, Prefix + "https://example.com" + path.Expected);
            default:
                return _random.Next(6) switch
                {
                    0 => ("http://EXAMPLE.com" + path.Wire, Prefix + "http://example.com" + path.Expected),
                    1 => ("http://example.com:80" + path.Wire, Prefix + "http://example.com" + path.Expected),
                    2 => ("HTTP://example.com" + path.Wire, Prefix + "http://example.com" + path.Expected),
                    3 => ("https://example.com:443" + path.Wire, Prefix + "https://example.com" + path.Expected),
                    _ => ("http://example.com" + path.Wire, Prefix + "http://example.com" + path.Expected),
                };
        }
    }

    private static readonly string[] ExtraHeaders =
    [
        "Accept: */*",
        "User-Agent: fuzz/1.0 (hardening)",
        "X-Empty:",
        "X-Empty-Space: ",
        "X-Padded:   padded value   ",
        "X-Tab:\tv\t",
        "Cookie: a=b; c=d",
        "Accept-Encoding: gzip, deflate",
        "X-Quoted: \"GET /x HTTP/1.1\"",
        "X-Colons: a:b:c",
    ];

    private GeneratedMessage ValidRequest(int connection, bool terminal)
    {
        var method = Methods[_random.Next(Methods.Length)];
        var path = Path(connection);
        var (wireTarget, expectedTarget) = Target(path);
        var http10 = terminal && _random.Next(3) == 0;
        var upgrade = terminal && !http10 && _allowUpgrade && _random.Next(4) == 0;
        var close = terminal && !http10 && !upgrade;
        var description = new StringBuilder(method);

        // Each header: what the client sends and what Kestrel must get in its place (null: removed).
        var headers = new List<(string Line, string? Rewritten)>();
        var host = HostHeader(http10);
        if (host is { } hostLine)
        {
            headers.Add(hostLine);
            description.Append(hostLine.Line == "Host: example.com" ? "" : $" [{hostLine.Line}]");
        }
        else
        {
            description.Append(" no-host");
        }

        var extraCount = _random.Next(0, 4);
        for (var i = 0; i < extraCount; i++)
        {
            headers.Add(Kept(ExtraHeaders[_random.Next(ExtraHeaders.Length)]));
        }

        if (_random.Next(5) == 0)
        {
            headers.Add(Kept("X-Dup: one"));
            headers.Add(Kept("X-Dup: two"));
            description.Append(" dup");
        }

        if (_random.Next(4) == 0)
        {
            headers.Add(("Proxy-Connection: keep-alive", null));
            description.Append(" proxy-conn");
        }

        if (_random.Next(6) == 0)
        {
            headers.Add(("Proxy-Authorization: Basic dXNlcjpwYXNz", null));
            description.Append(" proxy-auth");
        }

        if (_random.Next(40) == 0)
        {
            headers.Add(Kept("X-Long: " + new string('a', _random.Next(1000, 6000))));
            description.Append(" long-header");
        }

        if (close)
        {
            headers.Add(Kept("Connection: close"));
            description.Append(" close");
        }
        else if (upgrade)
        {
            headers.Add(Kept("Connection: Upgrade"));
            headers.Add(Kept("Upgrade: h2c"));
            description.Append(" upgrade");
        }
        else if (http10)
        {
            description.Append(" http/1.0");
        }
        else if (_random.Next(8) == 0)
        {
            headers.Add(Kept("Connection: keep-alive"));
        }

        var body = upgrade ? [] : Body(connection);
        var framing = upgrade ? 0 : http10 ? 1 : body.Length > 0 ? _random.Next(1, 3) : _random.Next(3);
        byte[] framed;
        var framedRewritten = (byte[]?)null;
        switch (framing)
        {
            case 1:
            {
                var lengthText = _random.Next(8) == 0 ? "00" + body.Length : body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
                headers.Add(Kept($"Content-Length: {lengthText}"));
                framed = body;
                description.Append($" cl={lengthText}");
                break;
            }

            case 2:
            {
                var te = _random.Next(6) switch
                {
                    0 => "Chunked",
                    1 => "gzip, chunked",
                    _ => "chunked",
                };
                headers.Add(Kept($"Transfer-Encoding: {te}"));
                (framed, framedRewritten) = Chunked(body, out var chunkDescription);
                description.Append($" te={te} {chunkDescription}");
                break;
            }

            default:
                framed = [];
                break;
        }

        if (!http10 && body.Length > 0 && _random.Next(6) == 0)
        {
            headers.Add(Kept("Expect: 100-continue"));
            description.Append(" expect-100");
        }

        Shuffle(headers);
        var version = http10 ? "HTTP/1.0" : "HTTP/1.1";
        var wire = new StringBuilder().Append(method).Append(' ').Append(wireTarget).Append(' ').Append(version).Append("\r\n");
        var rewritten = new StringBuilder().Append(method).Append(' ').Append(expectedTarget).Append(' ').Append(version).Append("\r\n");
        foreach (var (line, kept) in headers)
        {
            wire.Append(line).Append("\r\n");
            if (kept is not null)
            {
                rewritten.Append(kept).Append("\r\n");
            }
        }

        if (host is null)
        {
            // SPEC §3.1: a missing Host is added, naming the target's (or the tunnel's) authority.
            rewritten.Append("Host: example.com\r\n");
        }

        wire.Append("\r\n");
        rewritten.Append("\r\n");
        description.Append($" body={body.Length}");
        return new GeneratedMessage
        {
            Kind = MessageKind.Valid,
            Method = method,
            ExpectedTarget = expectedTarget,
            Body = body,
            Wire = [.. Encoding.Latin1.GetBytes(wire.ToString()), .. framed],
            Rewritten = [.. Encoding.Latin1.GetBytes(rewritten.ToString()), .. framedRewritten ?? framed],
            ClosesConnection = http10 || close,
            IsUpgrade = upgrade,
            Description = description.ToString(),
        };
    }

    private byte[] Body(int connection)
    {
        var roll = _random.Next(20);
        if (roll < 6)
        {
            return [];
        }

        if (roll < 9)
        {
            // A body that contains whole requests: it is body, never a request.
            var inner = $"GET /c{connection}/smuggled HTTP/1.1\r\nHost: example.com\r\n\r\n" +
                        $"POST http://example.com/c{connection}/smuggled HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n";
            return Encoding.ASCII.GetBytes(inner);
        }

        var length = roll == 19 ? _random.Next(16_000, 70_000) : _random.Next(1, 400);
        var body = new byte[length];
        _random.NextBytes(body);
        return body;
    }

    private static (string Line, string? Rewritten) Kept(string line) => (line, line);

    /// <summary>
    /// The Host line (null: none) and what Kestrel gets for it (SPEC §3.1): absolute-form always gets the target's
    /// authority; a tunnel keeps the client's Host unless Kestrel would refuse it, then gets the tunnel's authority.
    /// </summary>
    private (string Line, string? Rewritten)? HostHeader(bool http10)
    {
        var roll = _random.Next(12);
        if (roll == 0 || (http10 && roll < 4))
        {
            return null;
        }

        if (_mode == FuzzMode.Absolute)
        {
            return roll switch
            {
                1 => ("Host: other.example", "Host: example.com"),
                2 => ("Host: EXAMPLE.com:80", "Host: example.com"),
                3 => ("Host: [[example.com]]:8443", "Host: example.com"),
                _ => ("Host: example.com", "Host: example.com"),
            };
        }

        return roll switch
        {
            1 => Kept("Host: Example.COM:8080"),
            2 => ("Host: [[2001:db8::1]]:8443", "Host: example.com"),
            3 => ("Host: example.com:", "Host: example.com"),
            4 => Kept("Host: "),
            _ => Kept("Host: example.com"),
        };
    }

    /// <summary>The chunked framing of <paramref name="body"/> as sent, and as Kestrel must get it (proxy trailers removed).</summary>
    private (byte[] Wire, byte[] Rewritten) Chunked(byte[] body, out string description)
    {
        var output = new List<byte>();
        var offset = 0;
        var chunks = 0;
        var leadingZeros = false;
        var extensions = false;
        for (var guard = 0; guard < 10_000 && offset < body.Length; guard++)
        {
            var size = Math.Min(body.Length - offset, _random.Next(5) == 0 ? _random.Next(1, 8) : _random.Next(1, 20_000));
            output.AddRange(Encoding.ASCII.GetBytes(ChunkSize(size, ref leadingZeros) + Extension(ref extensions) + "\r\n"));
            output.AddRange(body.AsSpan(offset, size).ToArray());
            output.AddRange("\r\n"u8.ToArray());
            offset += size;
            chunks++;
        }

        output.AddRange(Encoding.ASCII.GetBytes(ChunkSize(0, ref leadingZeros) + Extension(ref extensions) + "\r\n"));
        var rewritten = new List<byte>(output);
        var trailers = _random.Next(4) switch
        {
            0 => ("X-Trailer: yes\r\nX-Other-Trailer: a b  c\r\n", "X-Trailer: yes\r\nX-Other-Trailer: a b  c\r\n"),
            1 when _random.Next(2) == 0 => ("Proxy-Authorization: Basic dXNlcjpwYXNz\r\nX-Trailer: yes\r\nproxy-connection: close\r\n", "X-Trailer: yes\r\n"),
            _ => ("", ""),
        };
        output.AddRange(Encoding.ASCII.GetBytes(trailers.Item1 + "\r\n"));
        rewritten.AddRange(Encoding.ASCII.GetBytes(trailers.Item2 + "\r\n"));
        var trailerNote = trailers.Item1.Length == 0 ? "" : trailers.Item1 == trailers.Item2 ? " trailers" : " proxy-trailers";
        description = $"chunks={chunks}{(leadingZeros ? " zeros" : "")}{(extensions ? " ext" : "")}{trailerNote}";
        return ([.. output], [.. rewritten]);
    }

    private string ChunkSize(int size, ref bool leadingZeros)
    {
        var hex = _random.Next(2) == 0 ? size.ToString("x", System.Globalization.CultureInfo.InvariantCulture) : size.ToString("X", System.Globalization.CultureInfo.InvariantCulture);
        if (_random.Next(6) == 0 && hex.Length < 8)
        {
            // Kestrel reads at most 8 hex digits (its chunk prefix limit is 10 bytes with CRLF): stay within that.
            leadingZeros = true;
            hex = new string('0', _random.Next(1, 9 - hex.Length)) + hex;
        }

        return hex;
    }

    private string Extension(ref bool extensions)
    {
        switch (_random.Next(12))
        {
            case 0:
                extensions = true;
                return ";name=value";
            case 1:
                extensions = true;
                return ";a;b=\"quoted ; value\"";
            case 2:
                extensions = true;
                return ";big=" + new string('x', _random.Next(100, 1000));
            default:
                return "";
        }
    }

    private void Shuffle<T>(List<T> list)
    {
        for (var i = list.Count - 1; i > 0; i--)
        {
            var j = _random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    /// <summary>Hostile heads: {T} is the target, {S} a complete request that must never reach the app.</summary>
    private static readonly (string Head, int Status, string Name)[] HostileHeads =
    [
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "cl+te"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400, "te+cl"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400, "te-chunked-identity"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: identity\r\n\r\n", 400, "te-identity"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "te-twice"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n", 400, "te-quoted"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n", 400, "te-trailing-comma"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400, "te-xchunked"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400, "cl-differ"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400, "cl-twice"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5, 5\r\n\r\nhello", 400, "cl-list"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nContent-Length: +5\r\n\r\nhello", 400, "cl-plus"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nContent-Length: -1\r\n\r\nhello", 400, "cl-negative"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0x5\r\n\r\nhello", 400, "cl-hex"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nContent-Length:\r\n\r\nhello", 400, "cl-empty"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nContent-Length: 99999999999999999999\r\n\r\nhello", 400, "cl-overflow"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nContent-Length : 5\r\n\r\nhello", 400, "ws-before-colon-cl"),
        ("POST {T} HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n", 400, "ws-before-colon-te"),
        ("GET {T} HTTP/1.1\r\nHost: example.com\r\nX-Folded: a\r\n b\r\n\r\n", 400, "obs-fold"),
        ("GET {T} HTTP/1.1\r\nHost: example.com\r\nX-Folded: a\r\n\tContent-Length: 5\r\n\r\n", 400, "obs-fold-tab"),
        ("GET {T} HTTP/1.1\r\nHost: example.com\nX-Bare-LF: 1\r\n\r\n", 400, "bare-lf-header"),
        ("GET {T} HTTP/1.1\nHost: example.com\r\n\r\n", 400, "bare-lf-request-line"),
        ("GET {T} HTTP/1.1\r\nHost: example.com\r\n\n", 400, "bare-lf-end"),
        ("GET {T} HTTP/1.1\r\nHost: example.com\r\nX-Bare-CR: 1\r2\r\n\r\n", 400, "bare-cr-value"),
        ("GET {T} HTTP/1.1\r\nHost: example.com\r\nX-Bare\rCR: 1\r\n\r\n", 400, "bare-cr-name"),
        ("GET {T}\r HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "bare-cr-target"),
        ("GET {T} HTTP/1.1\r\nHost: example.com\r\nX-Nul: a\0b\r\n\r\n", 400, "nul-value"),
        ("GET {T} HTTP/1.1\r\n Host: example.com\r\n\r\n", 400, "leading-ws-first-header"),
        ("GET {T} HTTP/1.1\r\nHost: example.com\r\nHost: other.example\r\n\r\n", 400, "dup-host"),
        ("GET  {T} HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "double-space"),
        ("GET {T} HTTP/1.1 \r\nHost: example.com\r\n\r\n", 400, "trailing-space-version"),
        ("GET {T}\tx HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "tab-target"),
        ("GET {T} HTTP/1.1\r\nHost: example.com\r\n: empty-name\r\n\r\n", 400, "empty-name"),
        ("GET {T} HTTP/1.1\r\nHost: example.com\r\nX(: a\r\n\r\n", 400, "bad-name-char"),
        ("GET {T} HTTP/1.1\r\nHost: example.com\r\nNoColon\r\n\r\n", 400, "no-colon"),
        ("G@T {T} HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "bad-method"),
        ("GET {T} http/1.1\r\nHost: example.com\r\n\r\n", 400, "lowercase-version"),
        ("GET {T} HTTP/2.0\r\nHost: example.com\r\n\r\n", 505, "http2-version"),
        ("GET {T} HTTP/1.0\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "http10-te"),
        ("GET {T} HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 4\r\n\r\nGET ", 400, "upgrade-with-body"),
        ("GET {T} HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "upgrade-with-chunked"),
        ("GET {T}{LONG} HTTP/1.1\r\nHost: example.com\r\n\r\n", 414, "request-line-too-long"),
        ("GET {T} HTTP/1.1\r\nHost: example.com\r\nX-Huge: {HUGE}\r\n\r\n", 431, "headers-too-large"),
    ];

    private GeneratedMessage HostileHead(int connection)
    {
        var candidates = _mode == FuzzMode.Absolute ? HostileHeads.Length + 2 : HostileHeads.Length + 1;
        var pick = _random.Next(candidates);
        var path = Path(connection);
        var (wireTarget, _) = Target(path);
        string head;
        int status;
        string name;
        if (pick < HostileHeads.Length)
        {
            (head, status, name) = HostileHeads[pick];
            head = head.Replace("{T}", wireTarget, StringComparison.Ordinal)
                .Replace("{LONG}", new string('l', 8200), StringComparison.Ordinal)
                .Replace("{HUGE}", new string('h', 33_000), StringComparison.Ordinal);
        }
        else if (pick == HostileHeads.Length && _mode != FuzzMode.Absolute)
        {
            (head, status, name) = ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 400, "connect-in-tunnel");
        }
        else
        {
            (head, status, name) = _random.Next(3) switch
            {
                0 => ($"GET ftp://example.com{path.Wire} HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "absolute-ftp"),
                1 => ($"GET http://example.com:99999{path.Wire} HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "absolute-bad-port"),
                _ => ($"GET http://{path.Wire} HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "absolute-empty-host"),
            };
        }

        return new GeneratedMessage
        {
            Kind = MessageKind.InvalidHead,
            Method = "",
            ExpectedTarget = "",
            Wire = Encoding.Latin1.GetBytes(head + Smuggled(connection)),
            ExpectedStatus = status,
            Description = name,
        };
    }

    private static readonly (string Body, string Name)[] HostileChunkedBodies =
    [
        ("5 \r\nhello\r\n0\r\n\r\n", "size-trailing-space"),
        (" 5\r\nhello\r\n0\r\n\r\n", "size-leading-space"),
        ("5\nhello\r\n0\r\n\r\n", "size-bare-lf"),
        ("5\rhello\r\n0\r\n\r\n", "size-bare-cr"),
        ("0x5\r\nhello\r\n0\r\n\r\n", "size-0x"),
        ("+5\r\nhello\r\n0\r\n\r\n", "size-plus"),
        ("-1\r\nhello\r\n0\r\n\r\n", "size-negative"),
        ("\r\nhello\r\n0\r\n\r\n", "size-empty"),
        ("5;a\nb\r\nhello\r\n0\r\n\r\n", "ext-bare-lf"),
        ("5;a\rb\r\nhello\r\n0\r\n\r\n", "ext-bare-cr"),
        ("5;a\0\r\nhello\r\n0\r\n\r\n", "ext-nul"),
        ("5;{EXT}\r\nhello\r\n0\r\n\r\n", "ext-huge"),
        ("5\r\nhelloXX0\r\n\r\n", "data-no-crlf"),
        ("5\r\nhello\n0\r\n\r\n", "data-bare-lf"),
        ("5\r\nhello\r0\r\n\r\n", "data-bare-cr"),
        ("3\r\nhello\r\n0\r\n\r\n", "data-longer-than-size"),
        ("fffffffffffffffff\r\n", "size-17-digits"),
        ("00000000000000005\r\nhello\r\n0\r\n\r\n", "size-17-digits-leading-zeros"),
        ("80000000\r\n", "size-over-2^31"),
        ("ffffffffffffffff\r\n", "size-2^64"),
        ("5\r\nhello\r\n0\r\nBad Trailer\r\n\r\n", "trailer-space-in-name"),
        ("5\r\nhello\r\n0\r\nX: a\nY: b\r\n\r\n", "trailer-bare-lf"),
        ("5\r\nhello\r\n0\r\nX: a\rb\r\n\r\n", "trailer-bare-cr"),
        ("5\r\nhello\r\n0\r\n folded: x\r\n\r\n", "trailer-folded"),
        ("5\r\nhello\r\n0\r\nNoColon\r\n\r\n", "trailer-no-colon"),
        ("5\r\nhello\r\n0\r\n", "missing-final-crlf"),
    ];

    private GeneratedMessage HostileChunkedBody(int connection)
    {
        var (body, name) = HostileChunkedBodies[_random.Next(HostileChunkedBodies.Length)];
        body = body.Replace("{EXT}", new string('e', 5000), StringComparison.Ordinal);
        var path = Path(connection);
        var (wireTarget, expectedTarget) = Target(path);
        var head = $"POST {wireTarget} HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n";
        var rewrittenHead = $"POST {expectedTarget} HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n";
        return new GeneratedMessage
        {
            Kind = MessageKind.InvalidBody,
            Method = "POST",
            ExpectedTarget = expectedTarget,
            Wire = Encoding.Latin1.GetBytes(head + body + Smuggled(connection)),
            RewrittenHead = Encoding.Latin1.GetBytes(rewrittenHead),
            FramedBody = Encoding.Latin1.GetBytes(body + Smuggled(connection)),
            Description = name,
        };
    }

    /// <summary>A complete request following a refused one: it must never reach the app.</summary>
    private string Smuggled(int connection) => _mode == FuzzMode.Absolute
        ? $"GET http://example.com/c{connection}/smuggled HTTP/1.1\r\nHost: example.com\r\n\r\n"
        : $"GET /c{connection}/smuggled HTTP/1.1\r\nHost: example.com\r\n\r\n";
}
