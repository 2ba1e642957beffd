using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Tunnel;

/// <summary>
/// SPEC §3.7 / issue 10.5: an HTTP/1.0 keep-alive request inside a tunnel whose response the app streams without a
/// length keeps the tunnel when the response is small (it gets a Content-Length); a large one ends the connection.
/// </summary>
public sealed class Http10KeepAliveTests
{
    [TestCase(true, 10)]
    [TestCase(false, 10)]
    [TestCase(true, 65536)]
    public async Task StreamedResponseUpToTheBound_GetsLengthAndKeepsTunnel(bool tls, int size)
    {
        await using var app = await StartAsync();
        await using var c = await OpenTunnelAsync(app, tls);
        for (var i = 0; i < 3; i++)
        {
            await c.SendAsync($"GET /stream?size={size} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            var response = await c.ReadResponseAsync();
            Assert.Multiple(() =>
            {
                Assert.That(response.Status, Is.EqualTo(200));
                Assert.That(response.Headers["Content-Length"], Is.EqualTo(size.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                Assert.That(response.Headers["Connection"], Is.EqualTo("keep-alive"));
                Assert.That(response.Body, Has.Length.EqualTo(size));
            });
        }

        await c.SendAsync("GET /after HTTP/1.1\r\nHost: site.example\r\n\r\n");
        Assert.That((string?)(await c.ReadResponseAsync()).Json["target"], Does.EndWith("://site.example/after"));
    }

    [Test]
    public async Task StreamedResponseOverTheBound_EndsTheConnectionAfterTheWholeBody()
    {
        await using var app = await StartAsync();
        await using var c = await OpenTunnelAsync(app, tls: true);
        var size = ProxTunnel.Rewriting.ResponseSniffingWriter.MaxHeldResponse + 1;
        await c.SendAsync($"GET /stream?size={size} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        var response = await c.ReadResponseAsync();
        Assert.Multiple(() =>
        {
            Assert.That(response.Status, Is.EqualTo(200));
            Assert.That(response.Headers.ContainsKey("Content-Length"), Is.False);
            Assert.That(response.Headers["Connection"], Is.EqualTo("close"));
            Assert.That(response.Body, Has.Length.EqualTo(size));
        });
    }

    [Test]
    public async Task Http10WithoutKeepAlive_StreamedResponseEndsTheConnection()
    {
        await using var app = await StartAsync();
        await using var c = await OpenTunnelAsync(app, tls: false);
        await c.SendAsync("GET /stream?size=10 HTTP/1.0\r\n\r\n");
        var response = await c.ReadResponseAsync();
        Assert.Multiple(async () =>
        {
            Assert.That(response.Body, Has.Length.EqualTo(10));
            Assert.That(response.Headers.ContainsKey("Content-Length"), Is.False);
            Assert.That(await c.IsClosedByServerAsync(), Is.True);
        });
    }

    private static async Task<RawHttpConnection> OpenTunnelAsync(TestApp app, bool tls)
    {
        var c = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await c.ConnectAsync(tls ? "site.example:443" : "site.example:80")).Status, Is.EqualTo(200));
        if (tls)
        {
            await c.StartTlsAsync(app, "site.example");
        }

        return c;
    }

    /// <summary>An app whose <c>/stream</c> writes <c>size</c> bytes in pieces with flushes, never setting a length.</summary>
    private static Task<TestApp> StartAsync() => TestApp.StartAsync(mapExtra: web => web.Use(async (HttpContext context, RequestDelegate next) =>
    {
        if (!context.Request.Path.Value!.EndsWith("/stream", StringComparison.Ordinal))
        {
            await next(context);
            return;
        }

        var size = int.Parse(context.Request.Query["size"]!, System.Globalization.CultureInfo.InvariantCulture);
        var piece = new byte[4096];
        Array.Fill(piece, (byte)'s');
        for (var sent = 0; sent < size; sent += piece.Length)
        {
            await context.Response.Body.WriteAsync(piece.AsMemory(0, Math.Min(piece.Length, size - sent)));
            await context.Response.Body.FlushAsync();
        }
    }));
}
