using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Tunnel;

public sealed class ReviewRegressionTests
{
    [Test]
    public async Task UnknownDownload_AnsweredWith404ByTheLibrary()
    {
        await using var app = await TestApp.StartAsync();
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync("GET http://proxtunnel/download/key HTTP/1.1\r\nHost: proxtunnel\r\n\r\n");
        var response = await c.ReadResponseAsync();
        Assert.That(response.Status, Is.EqualTo(404));
        Assert.That(app.SeenTargets, Is.Empty);
    }

    [Test]
    public async Task ProxyHost_AbsoluteFormWithOtherHostHeader_HostHeaderNamesProxyHost()
    {
        await using var app = await TestApp.StartAsync(
            t => t.ProxyHosts.Add("proxy-alias"),
            web => web.MapGet("/hello", () => "alias").RequireHost("proxy-alias"));
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync("GET http://proxy-alias/hello HTTP/1.1\r\nHost: somewhere.else\r\n\r\n" +
                          "GET http://proxy-alias HTTP/1.1\r\nHost: proxy-alias\r\n\r\n" +
                          "GET http://proxy-alias:8080/x HTTP/1.1\r\n\r\n");
        var first = await c.ReadResponseAsync();
        var second = await c.ReadResponseAsync();
        var third = await c.ReadResponseAsync();
        Assert.Multiple(() =>
        {
            Assert.That(first.Text, Is.EqualTo("alias"));
            Assert.That((string?)second.Json["target"], Is.EqualTo("/"));
            Assert.That((string?)third.Json["target"], Is.EqualTo("/x"));
            Assert.That((string?)third.Json["host"], Is.EqualTo("proxy-alias:8080"));
        });
    }

    [Test]
    public async Task TrailingDotHost_SameUrlOnBothRoutes()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync("GET http://Example.com./x HTTP/1.1\r\nHost: example.com.\r\n\r\n");
        Assert.That((string?)(await c.ReadResponseAsync()).Json["target"], Is.EqualTo("/p/http://example.com/x"));
        Assert.That((await c.ConnectAsync("example.com.:80")).Status, Is.EqualTo(200));
        await c.SendAsync("GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n");
        Assert.That((string?)(await c.ReadResponseAsync()).Json["target"], Is.EqualTo("/p/http://example.com/x"));
    }

    [Test]
    public async Task NonAsciiTarget_Gets400()
    {
        await using var app = await TestApp.StartAsync();
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync(Encoding.Latin1.GetBytes("GET http://example.com/\u00e9 HTTP/1.1\r\nHost: example.com\r\n\r\n"));
        Assert.That((await c.ReadResponseAsync()).Status, Is.EqualTo(400));
        Assert.That(app.SeenTargets, Is.Empty);
    }

    [Test]
    public async Task LongBasicCredentials_Accepted()
    {
        await using var app = await TestApp.StartAsync(t => t.PrefixResolver = new ProxTunnel.Resolvers.ProxyAuthPrefixResolver());
        using var client = app.CreateClient(new NetworkCredential("bob", new string('s', 600)));
        var json = TestApp.ParseJson(await client.GetStringAsync("http://example.com/"));
        Assert.That((string?)json["target"], Is.EqualTo("/bob/http://example.com/"));
    }

    [Test]
    public async Task EmptyLineSplitAcrossReads_BeforeConnect_OpensTunnel()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync("GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\n\r\n\r");
        Assert.That((string?)(await c.ReadResponseAsync()).Json["target"], Is.EqualTo("/p/http://example.com/a"));
        await c.SendAsync("\nCONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n");
        Assert.That((await c.ReadResponseAsync(expectBody: false)).Status, Is.EqualTo(200));
        await c.SendAsync("GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n");
        Assert.That((string?)(await c.ReadResponseAsync()).Json["target"], Is.EqualTo("/p/http://example.com/x"));
    }

    [Test]
    public async Task SlowlorisHead_TrickledLines_RefusedAfterTheHeadTimeout()
    {
        await using var app = await TestApp.StartAsync(t => t.RequestHeadersTimeout = TimeSpan.FromMilliseconds(600));
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.SendAsync("GET http://example.com/ HTTP/1.1\r\n");
        var sent = 0;
        for (var i = 0; i < 20; i++)
        {
            // The client's pace, not a wait for the server: one header line every 150 ms, each within the timeout.
            await Task.Delay(150);
            try
            {
                await c.SendAsync($"X-Slow-{i}: 1\r\n");
                sent++;
            }
            catch (IOException)
            {
                break;
            }
        }

        // SPEC §3.7 and Kestrel's own behaviour: a head not complete in time gets 408, which the client can read.
        var response = await c.ReadResponseAsync();
        Assert.That(response.Status, Is.EqualTo(408), $"sent {sent} lines");
        Assert.That(app.SeenTargets, Is.Empty);
    }
}
