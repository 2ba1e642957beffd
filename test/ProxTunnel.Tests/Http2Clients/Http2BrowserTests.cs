using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Playwright;

namespace ProxTunnel.Tests.Http2Clients;

/// <summary>Headless Chromium through the proxy: a page and its sub-resources load over HTTP/2 inside the tunnel.</summary>
[NonParallelizable]
public sealed class Http2BrowserTests
{
    private const int Images = 12;
    private Http2Host _host = null!;
    private ChromiumSession _chromium = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        if (!ChromiumSession.IsAvailable)
        {
            Assert.Ignore("chromium or certutil is not installed (test/run-all.sh installs them)");
        }

        _host = await Http2Host.StartAsync();
        _host.Routes["/h2page"] = ServePageAsync;
        _host.Routes[".css"] = context => ServeAsync(context, "text/css", "body { margin: 0 }");
        _host.Routes[".js"] = context => ServeAsync(context, "text/javascript", "window.loaded = true;");
        _host.Routes[".svg"] = context => ServeAsync(context, "image/svg+xml", "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\" height=\"1\"/>");
        _chromium = await ChromiumSession.LaunchAsync(_host.RootPemPath, _host.ProxyPort, Path.Combine(_host.Directory, "home"));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_chromium is not null)
        {
            await _chromium.DisposeAsync();
        }

        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    private static Task ServePageAsync(HttpContext context)
    {
        var html = new StringBuilder("<!doctype html><html><head><link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"/static/site.css\"><script src=\"/static/app.js\"></script></head><body>");
        for (var i = 0; i < Images; i++)
        {
            html.Append($"<img src=\"/static/img{i}.svg\">");
        }

        return ServeAsync(context, "text/html", html.Append("</body></html>").ToString());
    }

    private static Task ServeAsync(HttpContext context, string contentType, string body)
    {
        context.Response.ContentType = contentType;
        return context.Response.WriteAsync(body);
    }

    [Test]
    public async Task PageWithSubresources_EveryEntryReportsH2AndEveryTargetIsRewritten()
    {
        var page = await _chromium.Browser.NewPageAsync();
        try
        {
            var response = await page.GotoAsync($"https://{Http2Host.Host}/h2page", new PageGotoOptions { Timeout = ChromiumSession.TimeoutMs, WaitUntil = WaitUntilState.Load });
            Assert.That(response?.Status, Is.EqualTo(200));
            var entries = await ChromiumSession.ProtocolsAsync(page);
            var expected = new[] { "/h2page", "/static/site.css", "/static/app.js" }.Concat(Enumerable.Range(0, Images).Select(i => $"/static/img{i}.svg"));
            var targets = _host.Requests.Select(r => r.Target).ToArray();
            Assert.Multiple(() =>
            {
                Assert.That(entries.Select(e => new Uri(e[0]).AbsolutePath), Is.EquivalentTo(expected));
                Assert.That(entries.Select(e => e[1]), Is.All.EqualTo("h2"), string.Join(", ", entries.Select(e => $"{e[0]} {e[1]}")));
                Assert.That(targets, Is.SupersetOf(expected.Select(p => Http2Host.ExpectedTarget(true, p))));
            });
        }
        finally
        {
            await page.CloseAsync();
        }
    }
}
