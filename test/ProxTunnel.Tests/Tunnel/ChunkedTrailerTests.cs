using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Tunnel;

/// <summary>SPEC §3.5: Proxy-Authorization and Proxy-Connection are removed from chunked trailers, framing kept exact.</summary>
public sealed class ChunkedTrailerTests
{
    private const string Trailers = "Proxy-Authorization: Basic c2VjcmV0\r\nX-Keep: kept\r\nPROXY-CONNECTION: keep-alive\r\nX-Proxy-Authorization: other\r\n\r\n";

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(7)]
    [TestCase(40)]
    public async Task ProxyTrailers_AreRemoved_OthersReachTheApp(int split)
    {
        await using var app = await StartAsync();
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        var request = "POST http://example.com/trailers HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" + Trailers;
        var cut = split == 0 ? request.Length : request.IndexOf("0\r\n", StringComparison.Ordinal) + split;
        await c.SendAsync(request[..cut]);
        if (cut < request.Length)
        {
            await c.SendAsync(request[cut..]);
        }

        await c.SendAsync("GET http://example.com/after HTTP/1.1\r\nHost: example.com\r\n\r\n");
        var first = await c.ReadResponseAsync();
        var second = await c.ReadResponseAsync();
        Assert.Multiple(() =>
        {
            Assert.That(first.Text, Is.EqualTo("5 X-Keep=kept;X-Proxy-Authorization=other"));
            Assert.That((string?)second.Json["target"], Is.EqualTo("/http://example.com/after"));
        });
    }

    [Test]
    public async Task OnlyProxyTrailers_AppSeesNone()
    {
        await using var app = await StartAsync();
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.ConnectAsync("example.com:80");
        await c.SendAsync("POST /trailers HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\nProxy-Connection: close\r\n\r\n" +
                          "GET /after HTTP/1.1\r\nHost: example.com\r\n\r\n");
        Assert.That((await c.ReadResponseAsync()).Text, Is.EqualTo("3 "));
        Assert.That((await c.ReadResponseAsync()).Status, Is.EqualTo(200));
    }

    private static Task<TestApp> StartAsync() => TestApp.StartAsync(mapExtra: web => web.Use(async (HttpContext context, RequestDelegate next) =>
    {
        if (!context.Request.Path.Value!.EndsWith("/trailers", StringComparison.Ordinal))
        {
            await next(context);
            return;
        }

        var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var trailers = context.Features.Get<IHttpRequestTrailersFeature>()!.Trailers;
        await context.Response.WriteAsync(body.Length + " " + string.Join(";", trailers.Select(t => t.Key + "=" + t.Value)));
    }));
}
