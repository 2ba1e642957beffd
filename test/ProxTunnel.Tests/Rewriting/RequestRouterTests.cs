using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using ProxTunnel.Resolvers;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Tests.Rewriting;

/// <summary>Table-driven: the route <see cref="RequestRouter"/> picks for a parsed head (SPEC §3.1–§3.4), and the head <see cref="HeadWriter"/> writes.</summary>
public sealed class RequestRouterTests
{
    // tunnel: "" none, "http" plain tunnel to site.example:8080, "https" TLS tunnel to site.example:443.
    [TestCase("GET /a HTTP/1.1", "", "Verbatim", "", "", false, 0)]
    [TestCase("OPTIONS * HTTP/1.1", "", "Verbatim", "", "", false, 0)]
    [TestCase("GET http://Example.com:8000/p?q HTTP/1.1", "", "Prefixed", "Example.com", "/p?q", false, 8000)]
    [TestCase("GET https://example.com HTTP/1.1", "", "Prefixed", "example.com", "", true, 443)]
    [TestCase("GET http://[2001:db8::1]/ HTTP/1.1", "", "Prefixed", "[2001:db8::1]", "/", false, 80)]
    [TestCase("GET /a?b HTTP/1.1", "http", "Prefixed", "", "/a?b", false, 8080)]
    [TestCase("GET /a HTTP/1.1", "https", "Prefixed", "", "/a", true, 443)]
    [TestCase("GET http://other.example/x HTTP/1.1", "https", "Prefixed", "other.example", "/x", false, 80)]
    [TestCase("GET http://proxy-alias/hello HTTP/1.1", "", "ProxyHostPath", "proxy-alias", "/hello", false, 80)]
    [TestCase("GET http://PROXY-ALIAS./hello HTTP/1.1", "", "ProxyHostPath", "PROXY-ALIAS", "/hello", false, 80)]
    [TestCase("GET http://proxtunnel/other HTTP/1.1", "", "ProxyHostPath", "proxtunnel", "/other", false, 80)]
    [TestCase("CONNECT a.example:443 HTTP/1.1", "", "Connect", "", "", false, 0)]
    [TestCase("CONNECT a.example:443 HTTP/1.1", "https", "Refuse", "", "", false, 0)]
    [TestCase("GET * HTTP/1.1", "http", "Refuse", "", "", false, 0)]
    [TestCase("GET ftp://example.com/ HTTP/1.1", "", "Refuse", "", "", false, 0)]
    [TestCase("GET http://example.com:99999/ HTTP/1.1", "", "Refuse", "", "", false, 0)]
    [TestCase("GET http:///x HTTP/1.1", "", "Refuse", "", "", false, 0)]
    public void Route_PicksTheRouteThatSpecPromises(string requestLine, string tunnel, string kind, string host, string path, bool https, int port)
    {
        var (head, parsed) = Parse(requestLine);
        var route = RequestRouter.Route(head, parsed, Tunnel(tunnel), 0, Settings(fixedPrefix: true));
        Assert.That(route.Kind.ToString(), Is.EqualTo(kind));
        if (route.Kind is RouteKind.Prefixed or RouteKind.ProxyHostPath)
        {
            Assert.Multiple(() =>
            {
                Assert.That(Encoding.ASCII.GetString(head[route.Host]), Is.EqualTo(host));
                Assert.That(Encoding.ASCII.GetString(head[route.PathAndQuery]), Is.EqualTo(path));
                Assert.That(route.Https, Is.EqualTo(https));
                Assert.That(route.Port, Is.EqualTo(port));
            });
        }
    }

    [Test]
    public void Route_WithAResolver_LeavesTheTargetToIt()
    {
        var (head, parsed) = Parse("GET http://example.com/ HTTP/1.1");
        Assert.That(RequestRouter.Route(head, parsed, null, 0, Settings(fixedPrefix: false)).Kind, Is.EqualTo(RouteKind.Resolve));
    }

    [Test]
    public void Route_InATunnelToAProxyHost_IsAProxyHostPath()
    {
        var settings = Settings(fixedPrefix: true);
        var (head, parsed) = Parse("GET /hello HTTP/1.1");
        var tunnel = new TunnelTarget(true, "proxy-alias", 443, new Dictionary<string, string>());
        Assert.That(RequestRouter.Route(head, parsed, tunnel, settings.ClassifyHost(tunnel.Host), settings).Kind, Is.EqualTo(RouteKind.ProxyHostPath));
    }

    // host header: the client's line ("-" none); expected: the head's Host line after writing ("-" none).
    [TestCase("GET http://Example.com:80/a HTTP/1.1", "", "Host: other", "Host: example.com")]
    [TestCase("GET http://example.com:8000/a HTTP/1.0", "", "-", "Host: example.com:8000")]
    [TestCase("GET /a HTTP/1.1", "https", "Host: Site.Example", "Host: Site.Example")]
    [TestCase("GET /a HTTP/1.1", "https", "Host: [[2001:db8::1]]:8443", "Host: site.example")]
    [TestCase("GET /a HTTP/1.1", "http", "Host: site.example:", "Host: site.example:8080")]
    [TestCase("GET /a HTTP/1.1", "http", "-", "Host: site.example:8080")]
    [TestCase("GET /a HTTP/1.1", "", "Host: anything at all", "Host: anything at all")]
    public void HeadWriter_SetsHostAsSpecPromises(string requestLine, string tunnel, string hostLine, string expected)
    {
        var text = requestLine + "\r\nAccept: */*\r\n" + (hostLine == "-" ? "" : hostLine + "\r\n") + "Proxy-Connection: keep-alive\r\n\r\n";
        var (head, parsed) = ParseHead(text);
        var settings = Settings(fixedPrefix: true);
        var target = Tunnel(tunnel);
        var route = RequestRouter.Route(head, parsed, target, 0, settings);
        var shape = route.Kind == RouteKind.Verbatim ? TargetShape.Verbatim : TargetShape.Prefixed;
        var plan = new HeadPlan(head, parsed, shape, settings.FixedPrefix, head[route.Host], head[route.PathAndQuery], route.Https, route.Port, target);
        var output = new byte[HeadWriter.MaxLength(head, plan)];
        var written = Encoding.ASCII.GetString(output, 0, HeadWriter.Write(output, head, parsed, plan));
        var hostLines = written.Split("\r\n").Where(l => l.StartsWith("Host:", StringComparison.OrdinalIgnoreCase)).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(hostLines, Is.EqualTo(new[] { expected }));
            Assert.That(written, Does.Not.Contain("Proxy-Connection"));
            Assert.That(written, Does.Contain("\r\nAccept: */*\r\n"));
            Assert.That(written, Does.EndWith("\r\n\r\n"));
        });
    }

    private static RewriteSettings Settings(bool fixedPrefix)
    {
        var options = new ProxyTunnelOptions { Prefix = "/p/" };
        options.ProxyHosts.Add("proxy-alias");
        if (!fixedPrefix)
        {
            options.PrefixResolver = new ProxyAuthPrefixResolver();
        }

        return new RewriteSettings(options, pages: null, NullLogger.Instance);
    }

    private static TunnelTarget? Tunnel(string kind) => kind switch
    {
        "http" => new TunnelTarget(false, "site.example", 8080, new Dictionary<string, string>()),
        "https" => new TunnelTarget(true, "site.example", 443, new Dictionary<string, string>()),
        _ => null,
    };

    private static (byte[] Head, RequestHead Parsed) Parse(string requestLine) => ParseHead(requestLine + "\r\nHost: h\r\n\r\n");

    private static (byte[] Head, RequestHead Parsed) ParseHead(string text)
    {
        var (reason, parsed, bytes) = RequestHeadParserTests.Parse(text);
        Assert.That(reason, Is.EqualTo(RejectReason.None), text);
        return (bytes, parsed);
    }
}
