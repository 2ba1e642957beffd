using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using ProxTunnel.Resolvers;
using ProxTunnel.Tests.Gateway;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Urls;

/// <summary>
/// Canonical URLs through a real Kestrel app behind UseProxyTunnel: whatever dot-segment spelling a client sends, on
/// every route, the <c>Request.Path</c> Kestrel computes (after its own percent-decoding and dot-segment removal)
/// stays under <c>&lt;prefix&gt;&lt;scheme&gt;://&lt;host&gt;/</c>; hosts arrive in one canonical form.
/// </summary>
public sealed class CanonicalUrlEndToEndTests
{
    /// <summary>CONNECT example.com:443, TLS with the server name argv[2] (no verification), one GET; prints the
    /// (de-chunked) body.</summary>
    private const string SniClientScript = """
        import socket, ssl, sys
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
        s.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 4096:
            head += s.recv(1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t = ctx.wrap_socket(s, server_hostname=sys.argv[2])
        t.sendall(b"GET /x HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
        data = b""
        for _ in range(10000):
            chunk = t.recv(65536)
            if not chunk:
                break
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        if b"chunked" in head.lower():
            chunks = b""
            while body:
                size, rest = body.split(b"\r\n", 1)
                chunks, body = chunks + rest[:int(size, 16)], rest[int(size, 16) + 2:]
                if int(size, 16) == 0:
                    break
            body = chunks
        sys.stdout.write(body.decode())
        """;

    /// <summary>Paths that climb out of the URL's root unless dot segments are resolved exactly as browsers do.</summary>
    private static readonly string[] DotSegmentVectors =
    [
        "/a/../../../../admin",
        "/..",
        "/../",
        "/../../p/../admin",
        "/%2e%2e/admin",
        "/%2E%2E/%2e%2e/admin",
        "/.%2e/admin",
        "/%2e./admin",
        "/.%2E/.%2E/.%2E/admin",
        "/a/%2e%2E/../../admin",
        "/%2e/../admin",
        "/./././../admin",
        "/..%2fadmin",
        "/..%2Fadmin",
        "/%2e%2e%2fadmin",
        "/..\\..\\admin",
        "/.\\..\\..\\admin",
        "/a\\%2e%2e\\%2e%2e\\admin",
        "//../../admin",
        "/a//..//..//..//admin",
        "/..;/admin",
        "/%252e%252e/admin",
        "/%c0%ae%c0%ae/admin",
        "/a/..?x=/../../admin",
        "/a/b/c/../../../../../..",
        "/%2e",
    ];

    [Test]
    public async Task RequestPath_StaysUnderPrefixAndOrigin_OnAbsoluteFormHttp()
    {
        await AssertVectorsStayUnderAsync(_ => Task.CompletedTask, path => $"GET http://example.com{path} HTTP/1.1\r\nHost: example.com\r\n\r\n", "/p/http://example.com/");
    }

    [Test]
    public async Task RequestPath_StaysUnderPrefixAndOrigin_OnAbsoluteFormHttps()
    {
        await AssertVectorsStayUnderAsync(_ => Task.CompletedTask, path => $"GET https://example.com:8443{path} HTTP/1.1\r\nHost: example.com:8443\r\n\r\n", "/p/https://example.com:8443/");
    }

    [Test]
    public async Task RequestPath_StaysUnderPrefixAndOrigin_InPlainTunnel()
    {
        await AssertVectorsStayUnderAsync(
            async (c, _) => Assert.That((await c.ConnectAsync("example.com:80")).Status, Is.EqualTo(200)),
            path => $"GET {path} HTTP/1.1\r\nHost: example.com\r\n\r\n",
            "/p/http://example.com/");
    }

    [Test]
    public async Task RequestPath_StaysUnderPrefixAndOrigin_InTlsTunnel()
    {
        await AssertVectorsStayUnderAsync(
            async (c, app) =>
            {
                Assert.That((await c.ConnectAsync("example.com:443")).Status, Is.EqualTo(200));
                await c.StartTlsAsync(app, "example.com");
            },
            path => $"GET {path} HTTP/1.1\r\nHost: example.com\r\n\r\n",
            "/p/https://example.com/");
    }

    [Test]
    public async Task RequestPath_StaysUnderUserPrefixAndOrigin_ThroughTheResolver()
    {
        // ProxyAuthPrefixResolver: the target is built from ProxyRequestContext.AbsoluteUrl, not by the fixed-prefix
        // fast path, so alice's requests must stay under /alice/ (never /bob/..., never the app's own routes).
        var credentials = Convert.ToBase64String("alice:x"u8.ToArray());
        await AssertVectorsStayUnderAsync(
            _ => Task.CompletedTask,
            path => $"GET http://example.com{path} HTTP/1.1\r\nHost: example.com\r\nProxy-Authorization: Basic {credentials}\r\n\r\n",
            "/alice/http://example.com/",
            t => t.PrefixResolver = new ProxyAuthPrefixResolver("archive"));
    }

    [TestCase("PROXTUNNEL.")]
    [TestCase("%70roxtunnel")]
    [TestCase("ProxTunnel")]
    public async Task ProxyHostSpelledOtherwise_IsStillTheProxyHost(string host)
    {
        await using var app = await StartAsync();
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync($"GET http://{host}/%64ownload/pem HTTP/1.1\r\nHost: proxtunnel\r\n\r\n");
        AssertIsPemDownload(await c.ReadResponseAsync());
    }

    [Test]
    public async Task EncodedNulAfterDotSegment_IsRefusedByKestrel_AndNeverReachesTheApp()
    {
        // "%2e%2e%00" is no dot segment (WHATWG and Kestrel agree); Kestrel refuses a decoded NUL in the path itself.
        await using var app = await StartAsync();
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync("GET http://example.com/%2e%2e%00/admin HTTP/1.1\r\nHost: example.com\r\n\r\n");
        Assert.That((await c.ReadResponseAsync()).Status, Is.EqualTo(400));
        Assert.That(app.SeenTargets, Is.Empty);
    }

    [TestCase("2130706433")]
    [TestCase("0x7f.0.0.1")]
    [TestCase("0x7F000001")]
    [TestCase("0177.1")]
    [TestCase("0177.0.0.01")]
    [TestCase("127.1")]
    [TestCase("127.0.0.1.")]
    public async Task IPv4Forms_BecomeDottedDecimal_OnAbsoluteFormAndInTunnels(string host)
    {
        await using var app = await StartAsync();
        await using (var c = await RawHttpConnection.OpenAsync(app.Port))
        {
            await c.SendAsync($"GET http://{host}:8080/x HTTP/1.1\r\nHost: {host}:8080\r\n\r\n");
            var response = await c.ReadResponseAsync();
            Assert.That((string?)response.Json["target"], Is.EqualTo("/p/http://127.0.0.1:8080/x"));
        }

        await AssertTunnelAsync(app, $"{host}:443", tls: true, "/x", "/p/https://127.0.0.1/x", "127.0.0.1");
    }

    [Test]
    public async Task IPv6ConnectHost_IsBracketedAndCompressed_InFeatureAndTarget()
    {
        await using var app = await StartAsync();
        await AssertTunnelAsync(app, "[0:0:0:0:0:0:0:1]:8443", tls: true, "/v6", "/p/https://[::1]:8443/v6", "[::1]");
    }

    [Test]
    public async Task ConnectHostWithTrailingDotAndCapitals_IsCanonicalInFeatureAndTarget()
    {
        await using var app = await StartAsync();
        await AssertTunnelAsync(app, "WWW.Example.COM.:80", tls: false, "/x", "/p/http://www.example.com/x", "www.example.com");
    }

    /// <summary>Opens a tunnel (TLS without SNI when <paramref name="tls"/>), sends one request and checks the target
    /// the app saw and the tunnel host its feature reports.</summary>
    private static async Task AssertTunnelAsync(TestApp app, string authority, bool tls, string path, string target, string tunnelHost)
    {
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await c.ConnectAsync(authority)).Status, Is.EqualTo(200));
        if (tls)
        {
            await c.StartTlsAsync(app, serverName: null);
        }

        await c.SendAsync($"GET {path} HTTP/1.1\r\nHost: {tunnelHost}\r\n\r\n");
        var json = (await c.ReadResponseAsync()).Json;
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo(target));
            Assert.That((string?)json["tunnel"]!["host"], Is.EqualTo(tunnelHost));
        });
    }

    [Test]
    public async Task SniWithTrailingDotAndCapitals_IsCanonicalInFeatureAndTarget()
    {
        // Python hands the server name to OpenSSL as given (.NET's SslStream would drop the dot itself).
        await using var app = await StartAsync();
        var result = await ExternalProcess.RunAsync("python3", ["-c", SniClientScript, app.Port.ToString(CultureInfo.InvariantCulture), "Example.COM."], TimeSpan.FromSeconds(30));
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        var json = TestApp.ParseJson(result.StdOut);
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo("/p/https://example.com/x"));
            Assert.That((string?)json["tunnel"]!["sni"], Is.EqualTo("example.com"));
            Assert.That((string?)json["tlsHostName"], Is.EqualTo("example.com"));
        });
    }

    [TestCase("/%64ownload/pem")]
    [TestCase("/./download/pem")]
    [TestCase("/x/../download/pem")]
    [TestCase("/%2e%2e/download/pem")]
    public async Task ProxyHostDownload_IsMatchedOnTheCanonicalPath_OnEveryRoute(string path)
    {
        await using var app = await StartAsync();
        await using (var c = await RawHttpConnection.OpenAsync(app.Port))
        {
            await c.SendAsync($"GET http://proxtunnel{path} HTTP/1.1\r\nHost: proxtunnel\r\n\r\n");
            AssertIsPemDownload(await c.ReadResponseAsync());
        }

        await using (var c = await RawHttpConnection.OpenAsync(app.Port))
        {
            Assert.That((await c.ConnectAsync("proxtunnel:443")).Status, Is.EqualTo(200));
            await c.StartTlsAsync(app, "proxtunnel");
            await c.SendAsync($"GET {path} HTTP/1.1\r\nHost: proxtunnel\r\n\r\n");
            AssertIsPemDownload(await c.ReadResponseAsync());
        }

        Assert.That(app.SeenTargets, Is.Empty, "no spelling of the download reaches the app");
    }

    private static void AssertIsPemDownload(RawResponse response)
    {
        Assert.Multiple(() =>
        {
            Assert.That(response.Status, Is.EqualTo(200));
            Assert.That(response.Headers["Content-Type"], Is.EqualTo("application/x-x509-ca-cert"));
            Assert.That(response.Text, Does.StartWith("-----BEGIN CERTIFICATE-----"));
        });
    }

    /// <summary>An app that reports Kestrel's decoded, dot-segment-free <c>Request.Path</c> beside the raw target.</summary>
    private static Task<TestApp> StartAsync(Action<ProxyTunnelOptions>? configure = null) => TestApp.StartAsync(
        t =>
        {
            t.Prefix = "/p/";
            configure?.Invoke(t);
        },
        mapExtra: app => app.Use((context, next) =>
        {
            context.Response.Headers["X-Request-Path"] = context.Request.Path.Value;
            return next(context);
        }));

    private static Task AssertVectorsStayUnderAsync(Func<RawHttpConnection, Task> open, Func<string, string> request, string root,
        Action<ProxyTunnelOptions>? configure = null)
        => AssertVectorsStayUnderAsync((c, _) => open(c), request, root, configure);

    /// <summary>Sends each vector on a connection of its own (opened by <paramref name="open"/>) and collects every
    /// one whose Request.Path left <paramref name="root"/>.</summary>
    private static async Task AssertVectorsStayUnderAsync(Func<RawHttpConnection, TestApp, Task> open, Func<string, string> request, string root,
        Action<ProxyTunnelOptions>? configure = null)
    {
        await using var app = await StartAsync(configure);
        var failures = new List<string>();
        foreach (var vector in DotSegmentVectors)
        {
            await using var c = await RawHttpConnection.OpenAsync(app.Port);
            await open(c, app);
            await c.SendAsync(request(vector));
            var response = await c.ReadResponseAsync();
            var path = response.Headers.GetValueOrDefault("X-Request-Path") ?? "";
            if (response.Status != 200 || !path.StartsWith(root, StringComparison.Ordinal))
            {
                failures.Add($"{vector}: status {response.Status}, Request.Path '{path}', body {response.Text}");
            }
        }

        Assert.That(failures, Is.Empty);
    }
}
