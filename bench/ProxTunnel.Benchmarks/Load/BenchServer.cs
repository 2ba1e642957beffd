using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using ProxTunnel.Certificates;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// One Kestrel app on loopback with three listeners: a bare HTTP listener (Kestrel itself, the baseline), the
/// <c>UseProxyTunnel</c> listener, and a <c>UseHttps</c> listener with a static certificate for localhost. Every
/// path answers "hello" except paths ending in <c>/big</c>, which stream 64 MiB.
/// </summary>
internal sealed class BenchServer : IAsyncDisposable
{
    public const long BigLength = 64L * 1024 * 1024;
    private static readonly byte[] Hello = "hello"u8.ToArray();
    private static readonly byte[] BigChunk = new byte[64 * 1024];
    private readonly WebApplication _app;

    private BenchServer(WebApplication app, ProxyCertificateAuthority authority, string directory, ListenOptions[] listeners)
    {
        _app = app;
        Authority = authority;
        Directory = directory;
        DirectHttp = BoundEndPoint(listeners[0]);
        Proxy = BoundEndPoint(listeners[1]);
        DirectHttps = BoundEndPoint(listeners[2]);
    }

    public ProxyCertificateAuthority Authority { get; }

    public string Directory { get; }

    /// <summary>Bare Kestrel, no connection middleware.</summary>
    public IPEndPoint DirectHttp { get; }

    /// <summary>The UseProxyTunnel listener.</summary>
    public IPEndPoint Proxy { get; }

    /// <summary>Kestrel's own UseHttps with a certificate for localhost.</summary>
    public IPEndPoint DirectHttps { get; }

    /// <summary>Kestrel writes the port it bound for port 0 back into the listener's options.</summary>
    private static IPEndPoint BoundEndPoint(ListenOptions listener) =>
        new(IPAddress.Loopback, listener.IPEndPoint?.Port ?? throw new InvalidOperationException("listener not bound"));

    public static async Task<BenchServer> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-bench", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var authority = new ProxyCertificateAuthority(new CertificateAuthorityOptions { RootCertificatePath = Path.Combine(directory, "ca.pem") });
        var localhost = authority.GetHostCertificate("localhost");
        authority.GetCertificateContext("example.com");

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var listeners = new ListenOptions[3];
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.Listen(IPAddress.Loopback, 0, l => listeners[0] = l);
            o.Listen(IPAddress.Loopback, 0, l =>
            {
                listeners[1] = l;
                l.UseProxyTunnel(t =>
                {
                    t.Prefix = "/prefix/";
                    t.CertificateAuthorityInstance = authority;
                });
            });
            o.Listen(IPAddress.Loopback, 0, l =>
            {
                listeners[2] = l;
                l.UseHttps(localhost);
            });
        });
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync();
        return new BenchServer(app, authority, directory, listeners);
    }

    private static Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        if (path.EndsWith("/big", StringComparison.Ordinal))
        {
            return WriteBigAsync(context.Response);
        }

        context.Response.ContentLength = Hello.Length;
        return context.Response.BodyWriter.WriteAsync(Hello).AsTask();
    }

    private static async Task WriteBigAsync(HttpResponse response)
    {
        response.ContentLength = BigLength;
        response.ContentType = "application/octet-stream";
        for (long sent = 0; sent < BigLength; sent += BigChunk.Length)
        {
            await response.BodyWriter.WriteAsync(BigChunk);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Authority.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
