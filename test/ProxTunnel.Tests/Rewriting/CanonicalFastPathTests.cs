using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using ProxTunnel.Rewriting;
using ProxTunnel.Urls;

namespace ProxTunnel.Tests.Rewriting;

/// <summary>
/// The rewriter's fast paths (issue 13.3) against its general ones: a host or path found canonical is copied, a header
/// name of letters, digits and <c>-</c> is checked from one vector. Every vector goes through both, and both must give
/// the same bytes (or the same refusal).
/// </summary>
public sealed class CanonicalFastPathTests
{
    private static readonly string[] Hosts =
    [
        "example.com", "Example.COM", "example.com.", "a_b.example", "a-b.c-d", "xn--bcher-kva.de", "xn--zz.com", "foo.xn--p1ai",
        "x", "a.b.c.d.e.f", "foo.123", "foo.1a", "1.2.3.4", "0x7f.1", "2130706433", "127.1", "[::1]", "[0:0::1]", "%65xample.com",
        "exa%2Dmple.com", "ex..ample.com", ".example.com", new string('a', 63) + ".com", new string('a', 64) + ".com",
        string.Join('.', Enumerable.Repeat(new string('b', 49), 5)) + ".com",
    ];

    private static readonly string[] Paths =
    [
        "/", "", "/a/b/c", "/articles/2025/proxy?utm_source=feed&page=2", "/a.b/c.d", "/.well-known/x", "/a/./b", "/a/../b",
        "/.", "/..", "/a/.", "/a/..", "/%2e/a", "/%2E%2e/a", "/.%2e", "/a/%2e.", "/a%2eb", "/a%2e", "/...", "/..;/x", "/a\\b",
        "\\a", "?q", "/?q=../..", "/a?b#c", "/a#b", "#", "/a?x=1.2&y=%2e%2e", "//a//../b", "/a//b", "/%", "/%2",
    ];

    private static IEnumerable<TestCaseData> HostAndPathPairs()
        => from host in Hosts from path in Paths select new TestCaseData(host, path);

    [TestCaseSource(nameof(HostAndPathPairs))]
    public void AbsoluteFormHead_IsWrittenAlikeByFastAndGeneralPaths(string host, string path)
    {
        foreach (var port in new[] { "", ":80", ":8080" })
        {
            var target = "http://" + host + port + path;
            foreach (var hostLine in new[] { "Host: " + host + port, "Host: " + host.ToUpperInvariant() + ":80", "Host: other", null })
            {
                var text = $"GET {target} HTTP/1.1\r\nAccept: */*\r\n{(hostLine is null ? "" : hostLine + "\r\n")}Proxy-Connection: keep-alive\r\n\r\n";
                var (reason, parsed, head) = RequestHeadParserTests.Parse(text);
                if (reason != RejectReason.None)
                {
                    continue;
                }

                var route = RequestRouter.Route(head, parsed, null, 0, Settings);
                if (route.Kind == RouteKind.Refuse)
                {
                    Assert.That(route.HostIsCanonical, Is.False, target);
                    continue;
                }

                var fast = Write(head, parsed, route, route.HostIsCanonical);
                var general = Write(head, parsed, route, false);
                Assert.That(fast, Is.EqualTo(general), text);
            }
        }
    }

    [TestCaseSource(nameof(Hosts))]
    public void CanonicalHost_IsWhatTheCanonicalWriterWrites(string host)
    {
        var bytes = Encoding.ASCII.GetBytes(host);
        var destination = new byte[HostName.MaxLength];
        var written = HostName.WriteCanonical(bytes, destination);
        if (HostName.IsCanonical(bytes))
        {
            Assert.That(Encoding.ASCII.GetString(destination, 0, written), Is.EqualTo(host));
        }
    }

    [TestCase("example.com", true)]
    [TestCase("a_b.example", true)]
    [TestCase("x", true)]
    [TestCase("Example.COM", false)]
    [TestCase("example.com.", false)]
    [TestCase("xn--bcher-kva.de", false)]
    [TestCase("127.0.0.1", false)]
    [TestCase("[::1]", false)]
    public void IsCanonical_TakesOrdinaryLowerCaseNamesOnly(string host, bool canonical)
    {
        Assert.That(HostName.IsCanonical(Encoding.ASCII.GetBytes(host)), Is.EqualTo(canonical));
    }

    [TestCaseSource(nameof(Paths))]
    public void CanonicalPath_IsExactlyWhatTheWriterLeavesUnchanged(string path)
    {
        var bytes = Encoding.ASCII.GetBytes(path);
        Assert.That(UrlPath.IsCanonical(bytes), Is.EqualTo(WritePath(bytes) == path), path);
    }

    /// <summary>Every http(s) input of web-platform-tests' URL data through both paths (see urltestdata.SOURCE.md).</summary>
    [Test]
    public void WhatwgUrlTestData_GivesTheSameHostAndPathOnBothPaths()
    {
        var data = Path.Combine(TestContext.CurrentContext.TestDirectory, "Urls", "urltestdata.json");
        var compared = 0;
        foreach (var entry in JsonNode.Parse(File.ReadAllText(data))!.AsArray().OfType<JsonObject>())
        {
            var input = (string)entry["input"]!;
            var href = (string?)entry["href"];
            foreach (var url in new[] { input, href })
            {
                if (url is null || !url.StartsWith("http", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                var bytes = Encoding.UTF8.GetBytes(url);
                if (TargetBuilder.ParseAbsolute(bytes, out var https, out var host, out var port, out var path, out var hostIsCanonical) != RejectReason.None)
                {
                    continue;
                }

                var general = new byte[TargetBuilder.OriginLength(https, bytes[host], port)];
                TargetBuilder.WriteOrigin(general, https, bytes[host], port);
                var fast = new byte[TargetBuilder.OriginLength(https, bytes[host], port, hostIsCanonical)];
                TargetBuilder.WriteOrigin(fast, https, bytes[host], port, hostIsCanonical);
                var pathBytes = bytes.AsSpan(path).ToArray();
                var pathIsCanonical = UrlPath.IsCanonical(pathBytes);
                var fastPath = new byte[TargetBuilder.PathAndQueryLength(pathBytes, pathIsCanonical)];
                TargetBuilder.WritePathAndQuery(fastPath, pathBytes, pathIsCanonical);
                Assert.Multiple(() =>
                {
                    Assert.That(fast, Is.EqualTo(general), url);
                    Assert.That(Encoding.Latin1.GetString(fastPath), Is.EqualTo(WritePath(pathBytes)), url);
                });
                compared++;
            }
        }

        Assert.That(compared, Is.GreaterThan(300));
    }

    private static readonly string[] Names =
    [
        "Host", "X-Custom-1", "x_y", "a.b", "A!#$%&'*+-.^_`|~z", "sec-ch-ua-platform", new string('n', 31), new string('n', 32),
        new string('n', 33), new string('n', 31) + "_", "X Y", "X\tY", "X\"Y", "X(Y)", "X/Y", "X@Y", "X[Y]", "X{Y}", "X,Y", "X;Y",
        "X=Y", "X?Y", "X\\Y", "X\u007fY", "X\u0001Y", "X\u00e9Y", "X\u00ffY", "",
    ];

    /// <summary>
    /// A header name is checked from one vector when 32 bytes follow its line's start, by the token search otherwise:
    /// the same line first (vector) and last (search, nothing after it but the empty line) must fare alike.
    /// </summary>
    [TestCaseSource(nameof(Names))]
    public void HeaderName_IsJudgedAlikeWithAndWithoutRoomForAVector(string name)
    {
        var line = name + ": v";
        var padding = "Accept: " + new string('a', 40) + "\r\n";
        var first = RequestHeadParserTests.Parse($"GET / HTTP/1.1\r\n{line}\r\n{padding}\r\n");
        var last = RequestHeadParserTests.Parse($"GET / HTTP/1.1\r\n{padding}{line}\r\n\r\n");
        var token = name.Length > 0 && name.All(c => c < 0x7F && (char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal)));
        Assert.Multiple(() =>
        {
            Assert.That(first.Reason, Is.EqualTo(last.Reason), name);
            Assert.That(first.Reason == RejectReason.None, Is.EqualTo(token), name);
        });
        if (first.Reason == RejectReason.None)
        {
            Assert.That(first.Head.Lines[0].NameLength, Is.EqualTo(last.Head.Lines[1].NameLength));
        }
    }

    private static readonly string[] HeaderLines =
    [
        "X: a", "X: a\tb", "X:\t", "X: a\u0001b", "X: a\u007fb", "X: a\rb", "X: a\r", "X: a\r\r", "X:\u0000", "X: \u00e9\u0080\u009f\u00ff",
        "X : a", " X: a", "X\u0001: a", "Content-Length: 5", "Content-Length: 5\r\nContent-Length: 5", "Transfer-Encoding: chunked",
        "Host: a\r\nHost: b", "Proxy-Connection: keep-alive", "X: a\nY: b", "X: a\u001f", "\u0001",
    ];

    private static readonly string[] RequestLines = ["GET / HTTP/1.1", "GET /\u0001 HTTP/1.1", "GET\t/ HTTP/1.1", "GET / HTTP/1.1\u007f"];

    private static IEnumerable<TestCaseData> HeaderBlocks()
        => from requestLine in RequestLines from line in HeaderLines select new TestCaseData(requestLine, line);

    /// <summary>
    /// FindHeadEnd vouches for a head whose control bytes are only HT and CR LF pairs, and Parse then reads its lines
    /// without looking at the bytes again: wherever the odd byte falls against the scan's vectors (moved by a padding
    /// line), and whatever follows the head, that must come to the same lines or refusal as the general path.
    /// </summary>
    [TestCaseSource(nameof(HeaderBlocks))]
    public void HeaderBlock_IsParsedAlikeWhenTheScanVouchesForIt(string requestLine, string line)
    {
        for (var pad = 0; pad <= 40; pad++)
        {
            var headText = $"{requestLine}\r\nX-Pad: {new string('p', pad)}\r\n{line}\r\nAccept: */*\r\n\r\n";
            foreach (var text in new[] { headText, headText + "\u0000\r\u007f\nGET /next" })
            {
                var bytes = Encoding.Latin1.GetBytes(text);
                var head = new RequestHead();
                var lineStart = 0;
                var requestLineEnd = 0;
                var length = RequestHeadParser.FindHeadEnd(bytes, ref lineStart, ref requestLineEnd, 8192, 32768, out var reason, head);
                var general = RequestHeadParserTests.Parse(text);
                if (length <= 0)
                {
                    Assert.That(reason, Is.EqualTo(general.Reason), text);
                    continue;
                }

                var vouched = head.TakeLinesVouched();
                var clean = IsClean(headText);
                Assert.That(vouched, Is.EqualTo(clean && bytes.Length >= 32), text);
                head.FoundEnd(vouched);
                var fast = RequestHeadParser.Parse(bytes.AsSpan(0, length), requestLineEnd, head);
                Assert.That(fast, Is.EqualTo(general.Reason), text);
                if (fast == RejectReason.None)
                {
                    // The vouched path may leave a value's white space for RequestHead.Value to trim: compare what is read.
                    Assert.That(Read(bytes, head), Is.EqualTo(Read(general.Bytes, general.Head)), text);
                    Assert.That((head.ContentLength, head.IsChunked, head.HostLine, head.RemovedCount),
                        Is.EqualTo((general.Head.ContentLength, general.Head.IsChunked, general.Head.HostLine, general.Head.RemovedCount)), text);
                }
            }
        }
    }

    private static (int Start, int NameLength, string Value, int End, bool Remove)[] Read(byte[] bytes, RequestHead head)
        => head.Lines.ToArray().Select(line => (line.Start, line.NameLength, Encoding.Latin1.GetString(RequestHead.Value(bytes, line)), line.End, line.Remove)).ToArray();

    /// <summary>No control byte but HT, and every CR followed by an LF and every LF preceded by a CR.</summary>
    private static bool IsClean(string head)
    {
        for (var i = 0; i < head.Length; i++)
        {
            var c = head[i];
            var ok = c switch
            {
                '\r' => i + 1 < head.Length && head[i + 1] == '\n',
                '\n' => i > 0 && head[i - 1] == '\r',
                '\t' => true,
                _ => c >= 0x20 && c != 0x7F,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>An absolute URL whose host is a canonical name up to the path is split in one search: it must come
    /// to the same parts as the general split, for every host, path and port of the tables and any scheme case.</summary>
    [TestCaseSource(nameof(HostAndPathPairs))]
    public void AbsoluteTarget_IsSplitAlikeByTheShortcutAndTheGeneralPath(string host, string path)
    {
        foreach (var scheme in new[] { "http://", "https://", "HTTP://", "hTtPs://", "http:/", "httpx://", "ftp://" })
        {
            foreach (var port in new[] { "", ":80", ":443", ":8080", ":", "@x" })
            {
                var target = Encoding.Latin1.GetBytes(scheme + host + port + path);
                var fast = TargetBuilder.ParseAbsolute(target, out var https1, out var host1, out var port1, out var path1, out var canonical1);
                var general = TargetBuilder.ParseAbsolute(target, out var https2, out var host2, out var port2, out var path2, out var canonical2, shortcut: false);
                Assert.That(fast, Is.EqualTo(general), Encoding.Latin1.GetString(target));
                if (fast == RejectReason.None)
                {
                    Assert.That((https1, host1, port1, path1, canonical1), Is.EqualTo((https2, host2, port2, path2, canonical2)), Encoding.Latin1.GetString(target));
                }
            }
        }
    }

    [TestCase("GET / HTTP/1.1")]
    [TestCase("GET /a?b=c HTTP/1.0")]
    [TestCase("GET http://example.com/x HTTP/1.1")]
    [TestCase("GET /a b HTTP/1.1")]
    [TestCase("GET  / HTTP/1.1")]
    [TestCase("GET /  HTTP/1.1")]
    [TestCase("GET /#a HTTP/1.1")]
    [TestCase("GET /\u0080 HTTP/1.1")]
    [TestCase("GET /\u007f HTTP/1.1")]
    [TestCase("GET /\t HTTP/1.1")]
    [TestCase("GET / HTTP/1.2")]
    [TestCase("GET / HTTP/2.0")]
    [TestCase("GET / http/1.1")]
    [TestCase("GET / HTTP/1.1 ")]
    [TestCase("GET /x HTTP/1.11")]
    [TestCase("GET * HTTP/1.1")]
    [TestCase("GET a HTTP/1.1")]
    [TestCase("GET HTTP/1.1")]
    [TestCase("GET  HTTP/1.1")]
    [TestCase("get / HTTP/1.1")]
    [TestCase("GETS / HTTP/1.1")]
    [TestCase("POST / HTTP/1.1")]
    public void RequestLine_IsReadAlikeByTheGetShortcutAndTheGeneralPath(string line)
    {
        var bytes = Encoding.Latin1.GetBytes(line);
        var fast = new RequestHead();
        var general = new RequestHead();
        var reason = RequestHeadParser.ParseAnyRequestLine(bytes, general);
        if (!RequestHeadParser.TryParseGetLine(bytes, fast))
        {
            return;
        }

        Assert.That(reason, Is.EqualTo(RejectReason.None), line);
        Assert.That((fast.MethodLength, fast.TargetStart, fast.TargetLength, fast.IsHttp10, fast.IsConnect),
            Is.EqualTo((general.MethodLength, general.TargetStart, general.TargetLength, general.IsHttp10, general.IsConnect)), line);
    }

    /// <summary>The framing names compared a word at a time against every token byte in every place, with
    /// <see cref="System.Text.Ascii.EqualsIgnoreCase(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/> as the judge.</summary>
    [TestCase("host")]
    [TestCase("connection")]
    [TestCase("content-length")]
    [TestCase("transfer-encoding")]
    [TestCase("proxy-connection")]
    [TestCase("proxy-authorization")]
    public void FramingName_IsComparedAlikeAWordAtATime(string lower)
    {
        const string TokenBytes = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        var expected = Encoding.ASCII.GetBytes(lower);
        for (var place = 0; place < expected.Length; place++)
        {
            foreach (var c in TokenBytes)
            {
                var name = (byte[])expected.Clone();
                name[place] = (byte)c;
                Assert.That(RequestHeadParser.NameIs(name, expected), Is.EqualTo(System.Text.Ascii.EqualsIgnoreCase(name, expected)), Encoding.ASCII.GetString(name));
            }
        }

        Assert.That(RequestHeadParser.NameIs(Encoding.ASCII.GetBytes(lower.ToUpperInvariant()), expected), Is.True);
    }

    private static readonly RewriteSettings Settings = new(new ProxyTunnelOptions { Prefix = "/p/" }, pages: null, NullLogger.Instance);

    private static string Write(byte[] head, RequestHead parsed, HeadRoute route, bool hostIsCanonical)
    {
        var shape = route.Kind == RouteKind.Verbatim ? TargetShape.Verbatim : route.Kind == RouteKind.Prefixed ? TargetShape.Prefixed : TargetShape.ProxyHostPath;
        var plan = new HeadPlan(head, parsed, shape, Settings.FixedPrefix, head.AsSpan()[route.Host], head.AsSpan()[route.PathAndQuery], route.Https,
            route.Port, null, hostIsCanonical);
        var output = new byte[HeadWriter.MaxLength(head, plan)];
        return Encoding.Latin1.GetString(output, 0, HeadWriter.Write(output, head, parsed, plan));
    }

    private static string WritePath(byte[] path)
    {
        var output = new byte[UrlPath.CanonicalLength(path)];
        return Encoding.Latin1.GetString(output, 0, UrlPath.Write(path, output));
    }
}
