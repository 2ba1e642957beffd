using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using ProxTunnel.Certificates;
using ProxTunnel.Tests.Http2Clients;

namespace ProxTunnel.Benchmarks.Http2;

/// <summary>
/// <c>browser-h2 [--runs N] [--resources N]</c>: headless Chromium loads a page with N sub-resources from one host
/// through the proxy, once with HTTP/2 inside the tunnel and once with the listener's <c>Http2</c> option off (HTTP/1.1,
/// so Chromium opens up to six tunnels), alternating A/B, each load in a fresh browser context (new tunnels, no cache).
/// Reports the median time to the load event, CONNECT and TLS included.
/// </summary>
internal static class BrowserPageLoad
{
    public const string Command = "browser-h2";
    private const string Host = "example.com";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(string[] args)
    {
        var runs = 15;
        var resources = 100;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = int.Parse(args[i + 1], Inv);
            switch (args[i])
            {
                case "--runs": runs = value; break;
                case "--resources": resources = value; break;
                default:
                    Console.Error.WriteLine($"usage: {Command} [--runs N] [--resources N]");
                    return 2;
            }
        }

        if (!ChromiumSession.IsAvailable || runs < 1 || resources < 1)
        {
            Console.Error.WriteLine("needs /usr/bin/chromium and /usr/bin/certutil, and positive counts");
            return 2;
        }

        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-bench", "browser-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            using var authority = new ProxyCertificateAuthority(new CertificateAuthorityOptions { RootCertificatePath = Path.Combine(directory, "ca.pem") });
            var rootPem = Path.Combine(directory, "root.pem");
            await File.WriteAllTextAsync(rootPem, authority.RootCertificate.ExportCertificatePem());
            var listeners = new ListenOptions[2];
            await using var app = await StartAppAsync(authority, resources, listeners);
            await using var h2 = await ChromiumSession.LaunchAsync(rootPem, Port(listeners[0]), Path.Combine(directory, "home-h2"));
            await using var h1 = await ChromiumSession.LaunchAsync(rootPem, Port(listeners[1]), Path.Combine(directory, "home-h1"));
            var url = $"https://{Host}/page";
            var h2Times = new List<double>();
            var h1Times = new List<double>();
            for (var run = -2; run < runs; run++)
            {
                var a = await LoadOnceAsync(h2.Browser, url, "h2", resources);
                var b = await LoadOnceAsync(h1.Browser, url, "http/1.1", resources);
                if (run >= 0)
                {
                    h2Times.Add(a);
                    h1Times.Add(b);
                }
            }

            Console.WriteLine($"Chromium page load with {resources} sub-resources from one host through the proxy, median of {runs} (fresh context each, CONNECT+TLS included):");
            Console.WriteLine($"  HTTP/2 inside the tunnel  {Load.LoadHarness.Median(h2Times).ToString("F1", Inv)} ms  (min {h2Times.Min().ToString("F1", Inv)}, max {h2Times.Max().ToString("F1", Inv)})");
            Console.WriteLine($"  HTTP/1.1 (Http2 = false)  {Load.LoadHarness.Median(h1Times).ToString("F1", Inv)} ms  (min {h1Times.Min().ToString("F1", Inv)}, max {h1Times.Max().ToString("F1", Inv)})");
            return 0;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static int Port(ListenOptions listener) => listener.IPEndPoint?.Port ?? throw new InvalidOperationException("listener not bound");

    private static async Task<WebApplication> StartAppAsync(ProxyCertificateAuthority authority, int resources, ListenOptions[] listeners)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.Listen(IPAddress.Loopback, 0, l =>
            {
                listeners[0] = l;
                l.UseProxyTunnel(t => t.CertificateAuthorityInstance = authority);
            });
            o.Listen(IPAddress.Loopback, 0, l =>
            {
                listeners[1] = l;
                l.UseProxyTunnel(t =>
                {
                    t.CertificateAuthorityInstance = authority;
                    t.Http2 = false;
                });
            });
        });
        var app = builder.Build();
        var page = new StringBuilder("<!doctype html><html><head><link rel=\"icon\" href=\"data:,\"></head><body>");
        for (var i = 0; i < resources; i++)
        {
            page.Append(CultureInfo.InvariantCulture, $"<img src=\"/r/{i}.svg\" width=\"8\" height=\"8\">");
        }

        var html = page.Append("</body></html>").ToString();

        // About 2 KB per image, like small icons; never cached, so every load fetches all of them.
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"8\" height=\"8\"><!--" + new string('x', 2000) + "--></svg>";
        app.Run(context =>
        {
            context.Response.Headers.CacheControl = "no-store";
            var isPage = context.Request.Path.Value?.EndsWith("/page", StringComparison.Ordinal) == true;
            context.Response.ContentType = isPage ? "text/html" : "image/svg+xml";
            return context.Response.WriteAsync(isPage ? html : svg);
        });
        await app.StartAsync();
        return app;
    }

    private static async Task<double> LoadOnceAsync(IBrowser browser, string url, string protocol, int resources)
    {
        await using var context = await browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(url, new PageGotoOptions { WaitUntil = WaitUntilState.Load, Timeout = ChromiumSession.TimeoutMs });
        var entries = await ChromiumSession.ProtocolsAsync(page);
        if (entries.Length != resources + 1 || entries.Any(e => e[1] != protocol))
        {
            throw new InvalidOperationException($"expected {resources + 1} entries over {protocol}, got: " + string.Join(", ", entries.Select(e => e[1]).Distinct()) + $" ({entries.Length})");
        }

        return await page.EvaluateAsync<double>("() => performance.getEntriesByType('navigation')[0].loadEventEnd");
    }
}
