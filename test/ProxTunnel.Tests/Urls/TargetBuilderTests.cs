using System.Text;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Tests.Urls;

/// <summary>The URL builder's entry points, as the HTTP/1.1 rewriter and the HTTP/2 rewriter call them.</summary>
public sealed class TargetBuilderTests
{
    [TestCase("http://example.com/a/b?q", "http://example.com/a/b?q")]
    [TestCase("HTTP://EXAMPLE.com", "http://example.com/")]
    [TestCase("http://example.com?q", "http://example.com/?q")]
    [TestCase("http://example.com:80/x", "http://example.com/x")]
    [TestCase("https://example.com:443/x", "https://example.com/x")]
    [TestCase("https://example.com:80/x", "https://example.com:80/x")]
    [TestCase("http://example.com./x", "http://example.com/x")]
    [TestCase("http://2130706433/x", "http://127.0.0.1/x")]
    [TestCase("http://0x7f.0.0.1:8080/x", "http://127.0.0.1:8080/x")]
    [TestCase("http://0177.1/x", "http://127.0.0.1/x")]
    [TestCase("http://127.1/x", "http://127.0.0.1/x")]
    [TestCase("http://[0:0::1]:8080/x", "http://[::1]:8080/x")]
    [TestCase("http://%65xample.com/x", "http://example.com/x")]
    [TestCase("http://example.com\\a\\..\\b", "http://example.com/b")]
    [TestCase("http://example.com#frag", "http://example.com/")]
    [TestCase("http://example.com/a#frag/../..", "http://example.com/a")]
    public void AbsoluteForm_IsWrittenCanonical(string target, string url)
    {
        Assert.That(Build(target), Is.EqualTo(url));
    }

    [TestCase("/a/b/c", "/a/b/c")]
    [TestCase("", "/")]
    [TestCase("?q=1", "/?q=1")]
    [TestCase("a/b", "/a/b")]
    [TestCase("/", "/")]
    [TestCase("/.", "/")]
    [TestCase("/..", "/")]
    [TestCase("/./", "/")]
    [TestCase("/../", "/")]
    [TestCase("/a/.", "/a/")]
    [TestCase("/a/..", "/")]
    [TestCase("/a/./b", "/a/b")]
    [TestCase("/a/../b", "/b")]
    [TestCase("/a/b/../../..", "/")]
    [TestCase("/a/../../../../admin", "/admin")]
    [TestCase("/../../etc/passwd", "/etc/passwd")]
    [TestCase("/%2e%2e/admin", "/admin")]
    [TestCase("/%2E%2E/admin", "/admin")]
    [TestCase("/.%2e/admin", "/admin")]
    [TestCase("/%2e./admin", "/admin")]
    [TestCase("/%2e/admin", "/admin")]
    [TestCase("/a/%2E%2e", "/")]
    [TestCase("/a/.%2E/", "/")]
    [TestCase("/a\\..\\..\\admin", "/admin")]
    [TestCase("\\..\\admin", "/admin")]
    [TestCase("//..", "/")]
    [TestCase("//a//../b", "//a/b")]
    [TestCase("/a//b", "/a//b")]
    [TestCase("/..;/admin", "/..;/admin")]
    [TestCase("/.../admin", "/.../admin")]
    [TestCase("/..%2f..%2fadmin", "/..%2f..%2fadmin")]
    [TestCase("/%252e%252e/admin", "/%252e%252e/admin")]
    [TestCase("/%2e%2e%2e/x", "/%2e%2e%2e/x")]
    [TestCase("/a%20b/%7Euser", "/a%20b/%7Euser")]
    [TestCase("/a/..?x=/../..", "/?x=/../..")]
    [TestCase("/a/b?q#f/..", "/a/b?q")]
    [TestCase("/a#f", "/a")]
    [TestCase("#f", "/")]
    public void PathAndQuery_DotSegmentsResolvedAndOtherBytesVerbatim(string pathAndQuery, string canonical)
    {
        var bytes = Encoding.ASCII.GetBytes(pathAndQuery);
        var destination = new byte[bytes.Length + 1];
        var length = TargetBuilder.PathAndQueryLength(bytes);
        var written = TargetBuilder.WritePathAndQuery(destination, bytes);
        Assert.Multiple(() =>
        {
            Assert.That(Encoding.ASCII.GetString(destination, 0, written), Is.EqualTo(canonical));
            Assert.That(length, Is.EqualTo(written), "PathAndQueryLength agrees with WritePathAndQuery");
        });
    }

    [Test]
    public void PathAndQuery_WithThousandsOfSegments_ResolvesWithoutStack()
    {
        var path = string.Concat(Enumerable.Repeat("/a", 3000)) + string.Concat(Enumerable.Repeat("/..", 3100)) + "/x";
        var bytes = Encoding.ASCII.GetBytes(path);
        var destination = new byte[bytes.Length];
        var written = TargetBuilder.WritePathAndQuery(destination, bytes);
        Assert.That(Encoding.ASCII.GetString(destination, 0, written), Is.EqualTo("/x"));
    }

    [TestCase("example.com:443", "example.com", 443)]
    [TestCase("EXAMPLE.com.:8443", "example.com", 8443)]
    [TestCase("[::1]:443", "[::1]", 443)]
    [TestCase("2130706433:80", "127.0.0.1", 80)]
    public void ParseAuthority_ThenNormalizeHost_GivesCanonicalHost(string authority, string host, int port)
    {
        var bytes = Encoding.ASCII.GetBytes(authority);
        Assert.That(TargetBuilder.ParseAuthority(bytes, out var range, out var parsedPort), Is.EqualTo(RejectReason.None));
        Assert.Multiple(() =>
        {
            Assert.That(TargetBuilder.NormalizeHost(Encoding.ASCII.GetString(bytes[range])), Is.EqualTo(host));
            Assert.That(parsedPort, Is.EqualTo(port));
        });
    }

    [TestCase("example.com", true, -1)]
    [TestCase("example.com", false, 0)]
    [TestCase("EXAMPLE.com.:8443", false, 8443)]
    [TestCase("[::1]", false, 0)]
    [TestCase("user@example.com", false, -1)]
    public void ParseAuthority_PortRequiredOrNot(string authority, bool portRequired, int port)
    {
        var reason = TargetBuilder.ParseAuthority(Encoding.ASCII.GetBytes(authority), out _, out var parsedPort, portRequired);
        Assert.That(reason == RejectReason.None ? parsedPort : -1, Is.EqualTo(port));
    }

    [TestCase("http://user@example.com/")]
    [TestCase("http://user:pw@example.com/")]
    [TestCase("http://1.2.3.4.5/")]
    [TestCase("http://foo.09/")]
    [TestCase("http://exa mple.com/")]
    [TestCase("http:///x")]
    [TestCase("http://[::1/")]
    [TestCase("http://example.com:0/")]
    [TestCase("ftp://example.com/")]
    public void ParseAbsolute_WhenNoValidHttpUrl_Refuses(string target)
    {
        Assert.That(TargetBuilder.ParseAbsolute(Encoding.ASCII.GetBytes(target), out _, out _, out _, out _), Is.Not.EqualTo(RejectReason.None));
    }

    [TestCase("https", "example.com", 443, "/a/../b?q", "https://example.com/b?q")]
    [TestCase("http", "[::1]", 8080, "", "http://[::1]:8080/")]
    public void FormatUrl_CanonicalizesThePath(string scheme, string host, int port, string pathAndQuery, string url)
    {
        Assert.That(TargetBuilder.FormatUrl(scheme, host, port, pathAndQuery), Is.EqualTo(url));
    }

    private static string Build(string target)
    {
        var bytes = Encoding.ASCII.GetBytes(target);
        Assert.That(TargetBuilder.ParseAbsolute(bytes, out var https, out var host, out var port, out var path), Is.EqualTo(RejectReason.None), target);
        var originLength = TargetBuilder.OriginLength(https, bytes.AsSpan(host), port);
        var buffer = new byte[originLength + TargetBuilder.PathAndQueryLength(bytes.AsSpan(path))];
        var written = TargetBuilder.WriteOrigin(buffer, https, bytes.AsSpan(host), port);
        Assert.That(written, Is.EqualTo(originLength), "OriginLength agrees with WriteOrigin");
        written += TargetBuilder.WritePathAndQuery(buffer.AsSpan(written), bytes.AsSpan(path));
        Assert.That(written, Is.EqualTo(buffer.Length), "lengths agree with what was written");
        return Encoding.ASCII.GetString(buffer);
    }
}
