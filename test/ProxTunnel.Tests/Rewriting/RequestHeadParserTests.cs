using System.Text;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Tests.Rewriting;

/// <summary>Table-driven: what <see cref="RequestHeadParser"/> accepts, what it refuses and why (SPEC §3.7).</summary>
public sealed class RequestHeadParserTests
{
    private const int MaxLine = 8192;
    private const int MaxHeaders = 32768;

    private static readonly object[] Accepted =
    [
        new object[] { "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/a", false, -1L, false, 0 },
        new object[] { "POST http://x/ HTTP/1.0\r\nContent-Length: 0012\r\n\r\n", "POST", "http://x/", true, 12L, false, -1 },
        new object[] { "PUT * HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\nHost: y\r\n\r\n", "PUT", "*", false, -1L, true, 1 },
        new object[] { "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", "CONNECT", "a.example:443", false, -1L, false, 0 },
        new object[] { "M-SEARCH * HTTP/1.1\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n", "M-SEARCH", "*", false, -1L, false, -1 },
    ];

    [TestCaseSource(nameof(Accepted))]
    public void Parse_WhenHeadIsValid_ReportsItsFraming(string text, string method, string target, bool http10, long contentLength, bool chunked, int hostLine)
    {
        var (reason, head, bytes) = Parse(text);
        Assert.That(reason, Is.EqualTo(RejectReason.None));
        Assert.Multiple(() =>
        {
            Assert.That(Encoding.ASCII.GetString(head.Method(bytes)), Is.EqualTo(method));
            Assert.That(Encoding.ASCII.GetString(head.Target(bytes)), Is.EqualTo(target));
            Assert.That(head.IsHttp10, Is.EqualTo(http10));
            Assert.That(head.ContentLength, Is.EqualTo(contentLength));
            Assert.That(head.IsChunked, Is.EqualTo(chunked));
            Assert.That(head.HostLine, Is.EqualTo(hostLine));
            Assert.That(head.IsConnect, Is.EqualTo(method == "CONNECT"));
        });
    }

    [TestCaseSource(nameof(Accepted))]
    public void Parse_WithLineEndsRecordedByFindHeadEnd_SeesTheSameLines(string text, string method, string target, bool http10, long contentLength, bool chunked, int hostLine)
    {
        var full = text[..^2] + "X-Split: over two reads\r\n\r\n";
        var bytes = Encoding.ASCII.GetBytes(full);
        var head = new RequestHead();
        var lineStart = 0;
        var requestLineEnd = 0;
        var first = RequestHeadParser.FindHeadEnd(bytes.AsSpan(0, bytes.Length / 2), ref lineStart, ref requestLineEnd, MaxLine, MaxHeaders, out _, head);
        var length = RequestHeadParser.FindHeadEnd(bytes, ref lineStart, ref requestLineEnd, MaxLine, MaxHeaders, out _, head);
        Assert.That((first, length), Is.EqualTo((0, bytes.Length)));
        var (_, expected, _) = Parse(full);
        Assert.That(RequestHeadParser.Parse(bytes.AsSpan(0, length), requestLineEnd, head), Is.EqualTo(RejectReason.None));
        Assert.That(head.Lines.ToArray(), Is.EqualTo(expected.Lines.ToArray()));
    }

    [TestCase("Proxy-Authorization: Basic eDp5", true)]
    [TestCase("PROXY-CONNECTION: keep-alive", true)]
    [TestCase("X-Proxy-Authorization: x", false)]
    [TestCase("Proxy-Authorization-Extra: x", false)]
    [TestCase("Authorization: Basic eDp5", false)]
    public void Parse_MarksProxyHeadersForRemoval(string line, bool removed)
    {
        var (reason, head, _) = Parse($"GET / HTTP/1.1\r\n{line}\r\n\r\n");
        Assert.That(reason, Is.EqualTo(RejectReason.None));
        Assert.That(head.Lines[0].Remove, Is.EqualTo(removed));
    }

    [TestCase("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true, false)]
    [TestCase("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", false, false)]
    [TestCase("GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", false, true)]
    public void Parse_ReadsConnectionOptions(string text, bool keepAlive10, bool upgrade)
    {
        var (reason, head, _) = Parse(text);
        Assert.That(reason, Is.EqualTo(RejectReason.None));
        Assert.Multiple(() =>
        {
            Assert.That(head.ConnectionKeepAlive, Is.EqualTo(keepAlive10));
            Assert.That(head.ConnectionUpgrade, Is.EqualTo(upgrade));
        });
    }

    [TestCase("GET / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", nameof(RejectReason.ContentLengthWithTransferEncoding))]
    [TestCase("GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", nameof(RejectReason.MultipleContentLengths))]
    [TestCase("GET / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", nameof(RejectReason.InvalidContentLength))]
    [TestCase("GET / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", nameof(RejectReason.InvalidContentLength))]
    [TestCase("GET / HTTP/1.1\r\nContent-Length: 9999999999999999999\r\n\r\n", nameof(RejectReason.InvalidContentLength))]
    [TestCase("GET / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", nameof(RejectReason.UnsupportedTransferEncoding))]
    [TestCase("GET / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", nameof(RejectReason.UnsupportedTransferEncoding))]
    [TestCase("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", nameof(RejectReason.UnsupportedTransferEncoding))]
    [TestCase("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", nameof(RejectReason.TransferEncodingInHttp10))]
    [TestCase("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", nameof(RejectReason.ObsoleteLineFolding))]
    [TestCase("GET / HTTP/1.1\r\nX : a\r\n\r\n", nameof(RejectReason.WhitespaceBeforeColon))]
    [TestCase("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", nameof(RejectReason.BareCarriageReturn))]
    [TestCase("GET / HTTP/1.1\r\nNoColon\r\n\r\n", nameof(RejectReason.InvalidHeaderLine))]
    [TestCase("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", nameof(RejectReason.MultipleHostHeaders))]
    [TestCase("GET / HTTP/1.1\r\nConnection: Upgrade\r\nContent-Length: 1\r\n\r\n", nameof(RejectReason.UpgradeWithBody))]
    [TestCase("GET  / HTTP/1.1\r\n\r\n", nameof(RejectReason.InvalidRequestLine))]
    [TestCase("GET / http/1.1\r\n\r\n", nameof(RejectReason.InvalidRequestLine))]
    [TestCase("GET / HTTP/2.0\r\n\r\n", nameof(RejectReason.UnsupportedHttpVersion))]
    [TestCase("G(T / HTTP/1.1\r\n\r\n", nameof(RejectReason.InvalidRequestLine))]
    [TestCase("GET /a#b HTTP/1.1\r\n\r\n", nameof(RejectReason.InvalidRequestLine))]
    public void Parse_WhenHeadIsAmbiguous_RefusesWithReason(string text, string expected)
    {
        Assert.That(Parse(text).Reason, Is.EqualTo(Enum.Parse<RejectReason>(expected)));
    }

    [TestCase("GET / HTTP/1.1\nHost: x\r\n\r\n", nameof(RejectReason.BareLineFeed))]
    [TestCase("GET / HTTP/1.1\r\nHost: x\n\r\n", nameof(RejectReason.BareLineFeed))]
    public void FindHeadEnd_WhenALineEndsInBareLineFeed_Refuses(string text, string expected)
    {
        var lineStart = 0;
        var requestLineEnd = 0;
        var length = RequestHeadParser.FindHeadEnd(Encoding.ASCII.GetBytes(text), ref lineStart, ref requestLineEnd, MaxLine, MaxHeaders, out var reason);
        Assert.That((length, reason), Is.EqualTo((-1, Enum.Parse<RejectReason>(expected))));
    }

    [TestCase(9000, 0, nameof(RejectReason.RequestLineTooLong))]
    [TestCase(10, 40_000, nameof(RejectReason.HeadersTooLarge))]
    public void FindHeadEnd_WhenOverTheLimits_Refuses(int targetLength, int headerLength, string expected)
    {
        var text = $"GET /{new string('a', targetLength)} HTTP/1.1\r\nX: {new string('b', headerLength)}\r\n\r\n";
        var lineStart = 0;
        var requestLineEnd = 0;
        var length = RequestHeadParser.FindHeadEnd(Encoding.ASCII.GetBytes(text), ref lineStart, ref requestLineEnd, MaxLine, MaxHeaders, out var reason);
        Assert.That((length, reason), Is.EqualTo((-1, Enum.Parse<RejectReason>(expected))));
    }

    [Test]
    public void FindHeadEnd_FedByteByByte_FindsTheSameEnd()
    {
        var bytes = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n\r\nGET /next");
        var lineStart = 0;
        var requestLineEnd = 0;
        var found = 0;
        for (var length = 1; length <= bytes.Length && found == 0; length++)
        {
            found = RequestHeadParser.FindHeadEnd(bytes.AsSpan(0, length), ref lineStart, ref requestLineEnd, MaxLine, MaxHeaders, out _);
        }

        Assert.That(found, Is.EqualTo(bytes.Length - "GET /next".Length));
    }

    [TestCase("upgrade", "upgrade", true)]
    [TestCase("Upgrade", "upgrade", true)]
    [TestCase(" upgrade\t", "upgrade", true)]
    [TestCase("\tUPGRADE", "upgrade", true)]
    [TestCase("upgrad", "upgrade", false)]
    [TestCase(" upgrad", "upgrade", false)]
    [TestCase("upgradex", "upgrade", false)]
    [TestCase("keep-alive", "upgrade", false)]
    [TestCase("a,b,c,d", "upgrade", false)]
    [TestCase("keep-alive, Upgrade", "upgrade", true)]
    [TestCase("keep-alive,upgrade ,x", "upgrade", true)]
    [TestCase("keep-alive, upgrades", "upgrade", false)]
    [TestCase("close", "close", true)]
    [TestCase("", "close", false)]
    public void ListContains_FindsTheTokenAsAWholeElement(string value, string token, bool expected)
    {
        Assert.That(RequestHeadParser.ListContains(Encoding.ASCII.GetBytes(value), Encoding.ASCII.GetBytes(token)), Is.EqualTo(expected));
    }

    internal static (RejectReason Reason, RequestHead Head, byte[] Bytes) Parse(string text)
    {
        var bytes = Encoding.Latin1.GetBytes(text);
        var lineStart = 0;
        var requestLineEnd = 0;
        var length = RequestHeadParser.FindHeadEnd(bytes, ref lineStart, ref requestLineEnd, MaxLine, MaxHeaders, out var reason);
        var head = new RequestHead();
        if (length <= 0)
        {
            return (reason, head, bytes);
        }

        return (RequestHeadParser.Parse(bytes.AsSpan(0, length), requestLineEnd, head), head, bytes);
    }
}
