using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ProxTunnel;
using ProxTunnel.Certificates;
using ProxTunnel.Connection;
using ProxTunnel.Http2;
using ProxTunnel.ProxyHost;
using ProxTunnel.Rewriting;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>Turns a Kestrel listener into an HTTP/HTTPS proxy endpoint for the app behind it.</summary>
public static class ProxyTunnelListenOptionsExtensions
{
    /// <summary>
    /// Answers CONNECT, terminates TLS inside tunnels with certificates from the ProxTunnel root CA, and rewrites every
    /// proxied request to <c>&lt;prefix&gt;&lt;absolute URL&gt;</c>. Options registered with <c>AddProxyTunnel</c> (or bound from
    /// the <c>ProxyTunnel</c> configuration section) are the starting point; <paramref name="configure"/> refines them for
    /// this listener. Place it after <c>UseHttps()</c> for an HTTPS proxy.
    /// </summary>
    public static ListenOptions UseProxyTunnel(this ListenOptions listenOptions, Action<ProxyTunnelOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        var options = new ProxyTunnelOptions();
        if (listenOptions.ApplicationServices.GetService<IOptions<ProxyTunnelOptions>>() is { } registered)
        {
            options.CopyFrom(registered.Value);
        }

        configure?.Invoke(options);
        options.Validate();
        RequireHttp1(listenOptions);

        HttpProtocols? boundProtocols = null;
        listenOptions.Use(next =>
        {
            // Runs once when Kestrel builds the listener's pipeline at start-up. Kestrel has read Protocols by now, so
            // this only refuses a listener that was set to drop HTTP/1.1 after UseProxyTunnel.
            RequireHttp1(listenOptions);
            var loggerFactory = listenOptions.ApplicationServices.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
            var authority = options.CertificateAuthorityInstance
                ?? CertificateAuthorityRegistry.For(listenOptions.ApplicationServices).GetOrCreate(options.CertificateAuthority, loggerFactory);
            var pages = options.EnableCertificateDownload ? new ProxyHostPages(authority, options.ProxyHost) : null;
            var logger = loggerFactory.CreateLogger("ProxTunnel.Tunnel");
            var settings = new RewriteSettings(options, pages, logger);
            boundProtocols ??= listenOptions.Protocols;
            var http2 = CreateHttp2Settings(listenOptions, boundProtocols.Value, options);

            // Kestrel's HTTP layer took the listener's protocols when it was bound, so HTTP/2 stays on for tunnels; a
            // UseHttps placed before UseProxyTunnel builds after this and reads Protocols now: TLS to the proxy itself
            // then offers only http/1.1 (SPEC §4), as proxy clients speak HTTP/1.1 to the proxy.
            listenOptions.Protocols = HttpProtocols.Http1;
            var middleware = new ProxyTunnelMiddleware(next, options, authority, settings, http2, logger);
            return middleware.OnConnectionAsync;
        });
        return listenOptions;
    }

    /// <summary>
    /// Refuses a listener without HTTP/1.1. Protocols are otherwise left as configured: a plaintext connection never
    /// shows Kestrel an h2c preface, because every head goes through the HTTP/1.1 rewriter, which refuses the preface;
    /// HTTP/2 is chosen only by ALPN <c>h2</c> in a TLS tunnel.
    /// </summary>
    private static void RequireHttp1(ListenOptions listenOptions)
    {
        if ((listenOptions.Protocols & HttpProtocols.Http1) == 0)
        {
            throw new InvalidOperationException(
                $"UseProxyTunnel needs HTTP/1.1 on the listener {listenOptions}, but its Protocols are {listenOptions.Protocols}. "
                + "Proxy clients speak HTTP/1.1 to a proxy: set Protocols to HttpProtocols.Http1AndHttp2 (the default) or Http1.");
        }
    }

    /// <summary>HTTP/2 inside tunnels needs it on the listener and in the options; the frame limits are Kestrel's own,
    /// which it advertises in its SETTINGS.</summary>
    private static Http2Settings CreateHttp2Settings(ListenOptions listenOptions, HttpProtocols protocols, ProxyTunnelOptions options)
    {
        var limits = listenOptions.KestrelServerOptions.Limits.Http2;
        var enabled = options.Http2 && (protocols & HttpProtocols.Http2) != 0;
        return new Http2Settings(enabled, limits.HeaderTableSize, limits.MaxFrameSize, options.MaxRequestHeadersTotalSize);
    }
}
