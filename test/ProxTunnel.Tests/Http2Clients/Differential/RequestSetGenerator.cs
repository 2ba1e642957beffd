using System.Globalization;
using System.Text;

namespace ProxTunnel.Tests.Http2Clients.Differential;

/// <summary>
/// A seeded generator of valid HTTP/2 requests: browser-like header sets that recur (so the dynamic table is reused, as
/// a browser's is), plus churn that forces evictions, repeated and odd-but-valid header names and values, custom
/// methods, bodies of many sizes and trailers. Every path starts with <c>/d/{index}/</c> so records can be paired.
/// </summary>
internal sealed class RequestSetGenerator
{
    private const string TokenChars = "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~";
    private const string PathChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~!$&'()*+,;=:@";
    private const string QueryChars = PathChars + "/?";
    private static readonly string[] Methods = ["GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "X-CUSTOM", "purge"];
    private static readonly string[] Accepts = ["*/*", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "application/json"];
    private static readonly string[] Agents =
    [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0",
        "curl/8.14.1",
    ];

    private static readonly string[] Destinations = ["document", "script", "style", "image", "font", "empty"];
    private readonly Random _random;

    public RequestSetGenerator(int seed) => _random = new Random(seed);

    public IEnumerable<GeneratedRequest> Generate(int count)
    {
        for (var i = 0; i < count; i++)
        {
            yield return Next(i);
        }
    }

    private GeneratedRequest Next(int index)
    {
        var method = Pick(Methods);
        var headers = new List<(string, string)>();
        if (_random.NextDouble() < 0.7)
        {
            AddBrowserHeaders(headers);
        }

        var extra = _random.Next(0, 12);
        for (var i = 0; i < extra; i++)
        {
            headers.Add(RandomHeader());
        }

        if (_random.NextDouble() < 0.1)
        {
            // Repeated field names: order within the name must survive.
            var name = "x-repeated-" + _random.Next(3);
            for (var i = _random.Next(2, 5); i > 0; i--)
            {
                headers.Add((name, Value(_random.Next(1, 40))));
            }
        }

        if (_random.NextDouble() < 0.05)
        {
            headers.Add(("x-large", Value(_random.Next(1000, 6000))));
        }

        byte[]? body = null;
        if (method != "GET" && method != "HEAD" && _random.NextDouble() < 0.6 || _random.NextDouble() < 0.03)
        {
            body = new byte[BodyLength()];
            _random.NextBytes(body);
            if (_random.NextDouble() < 0.5)
            {
                headers.Add(("content-length", body.Length.ToString(CultureInfo.InvariantCulture)));
            }

            headers.Add(("content-type", Pick(["application/octet-stream", "application/json", "text/plain;charset=utf-8", "multipart/form-data; boundary=x"])));
        }

        Shuffle(headers);
        List<(string, string)>? trailers = null;
        if (body is not null && _random.NextDouble() < 0.15)
        {
            trailers = [];
            for (var i = _random.Next(1, 4); i > 0; i--)
            {
                trailers.Add(("x-trailer-" + _random.Next(4), Value(_random.Next(1, 30))));
            }
        }

        var updates = _random.NextDouble() < 0.02 ? SizeUpdates() : [];
        return new GeneratedRequest(index, method, Path(index), headers, body, trailers, updates,
            HeaderFragments: _random.NextDouble() < 0.1 ? _random.Next(2, 8) : 1,
            Padding: _random.NextDouble() < 0.1 ? _random.Next(0, 256) : -1,
            Priority: _random.NextDouble() < 0.05,
            DataChunk: _random.NextDouble() < 0.2 ? _random.Next(1, 4096) : 16384);
    }

    private void AddBrowserHeaders(List<(string, string)> headers)
    {
        // A handful of recurring sets, as a browser sends the same few values on every request of a page.
        var profile = _random.Next(3);
        headers.Add(("user-agent", Agents[profile]));
        headers.Add(("accept", Pick(Accepts)));
        headers.Add(("accept-encoding", profile == 2 ? "gzip, deflate" : "gzip, deflate, br, zstd"));
        headers.Add(("accept-language", "en-US,en;q=0.9"));
        if (profile == 0)
        {
            headers.Add(("sec-ch-ua", "\"Chromium\";v=\"156\", \"Not)A;Brand\";v=\"24\""));
            headers.Add(("sec-ch-ua-mobile", "?0"));
            headers.Add(("sec-ch-ua-platform", "\"Linux\""));
            headers.Add(("sec-fetch-site", "same-origin"));
            headers.Add(("sec-fetch-mode", "no-cors"));
            headers.Add(("sec-fetch-dest", Pick(Destinations)));
            headers.Add(("priority", "u=" + _random.Next(0, 7) + ", i"));
        }

        if (_random.NextDouble() < 0.5)
        {
            headers.Add(("referer", "https://example.com/d/" + _random.Next(100) + "/page"));
        }

        // Cookie crumbs as separate fields (RFC 9113 §8.2.3), as browsers send them.
        for (var i = _random.Next(0, 4); i > 0; i--)
        {
            headers.Add(("cookie", $"c{_random.Next(6)}={Value(_random.Next(1, 30)).Replace(";", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal)}"));
        }
    }

    private (string, string) RandomHeader()
    {
        var roll = _random.NextDouble();
        if (roll < 0.3)
        {
            return (Pick(["cache-control", "pragma", "if-none-match", "if-modified-since", "origin", "x-requested-with", "dnt", "upgrade-insecure-requests"]), Value(_random.Next(1, 60)));
        }

        var name = new StringBuilder("x-");
        for (var i = _random.Next(1, 24); i > 0; i--)
        {
            name.Append(TokenChars[_random.Next(TokenChars.Length)]);
        }

        return (name.ToString(), roll < 0.35 ? "" : Value(_random.Next(1, 120)));
    }

    /// <summary>A valid field value: visible ASCII with inner spaces and tabs and some UTF-8 (obs-text octets), never
    /// leading or trailing whitespace.</summary>
    private string Value(int length)
    {
        var value = new StringBuilder(length);
        for (var i = 0; i < length; i++)
        {
            var roll = _random.NextDouble();
            var inner = i > 0 && i < length - 1;
            value.Append(roll switch
            {
                < 0.05 when inner => ' ',
                < 0.07 when inner => '\t',
                < 0.08 => 'é',
                _ => (char)_random.Next(0x21, 0x7F),
            });
        }

        return value.ToString();
    }

    private string Path(int index)
    {
        var path = new StringBuilder("/d/").Append(index.ToString(CultureInfo.InvariantCulture));
        for (var segments = _random.Next(0, 4); segments > 0; segments--)
        {
            path.Append('/');
            var length = _random.Next(0, 16);
            for (var i = 0; i < length; i++)
            {
                path.Append(_random.NextDouble() < 0.05 ? PercentEncoded() : PathChars[_random.Next(PathChars.Length)].ToString());
            }
        }

        if (_random.NextDouble() < 0.4)
        {
            path.Append('?');
            for (var i = _random.Next(0, 40); i > 0; i--)
            {
                path.Append(QueryChars[_random.Next(QueryChars.Length)]);
            }
        }

        return path.ToString();
    }

    /// <summary>
    /// A %XX escape in either case; never %2E (dot segments are resolved by the rewrite, §3.1, which the differential
    /// does not model) and never %00 (Kestrel refuses a NUL in the decoded path).
    /// </summary>
    private string PercentEncoded()
    {
        var octet = _random.Next(1, 256);
        octet = octet == '.' ? '/' : octet;
        return "%" + octet.ToString(_random.Next(2) == 0 ? "X2" : "x2", CultureInfo.InvariantCulture);
    }

    private int BodyLength() => _random.NextDouble() switch
    {
        < 0.1 => 0,
        < 0.7 => _random.Next(1, 1024),
        < 0.95 => _random.Next(1024, 40_000),
        _ => _random.Next(40_000, 300_000),
    };

    private int[] SizeUpdates() => _random.Next(3) switch
    {
        0 => [_random.Next(0, 4097)],
        1 => [0, 4096],
        _ => [_random.Next(0, 1024), _random.Next(1024, 4097)],
    };

    private T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    private void Shuffle(List<(string, string)> headers)
    {
        for (var i = headers.Count - 1; i > 0; i--)
        {
            var j = _random.Next(i + 1);
            (headers[i], headers[j]) = (headers[j], headers[i]);
        }
    }
}
