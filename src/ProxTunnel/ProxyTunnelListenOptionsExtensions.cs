using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ProxTunnel;
using ProxTunnel.Certificates;
using ProxTunnel.Connection;
using ProxTunnel.Diagnostics;
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
    /// this listener. Place it after <c>UseHttps()</c> for an HTTPS proxy. Logs go through the app's
    /// <c>ILoggerFactory</c>, and metrics to the <c>ProxTunnel</c> meter of its <c>IMeterFactory</c>.
    /// </summary>
    /// <param name="listenOptions">The Kestrel listener that becomes a proxy endpoint.</param>
    /// <param name="configure">Adjusts the options for this listener; runs after the registered options are copied.</param>
    /// <returns><paramref name="listenOptions"/>, for chaining.</returns>
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
        RestrictToHttp1(listenOptions);

        listenOptions.Use(next =>
        {
            // Runs once when Kestrel builds the listener's pipeline at start-up. Kestrel has read Protocols by now, so
            // this only refuses a listener that was set to drop HTTP/1.1 after UseProxyTunnel.
            RestrictToHttp1(listenOptions);
            var loggerFactory = listenOptions.ApplicationServices.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
            var meterFactory = listenOptions.ApplicationServices.GetService<IMeterFactory>();
            var authority = options.CertificateAuthorityInstance
                ?? CertificateAuthorityRegistry.For(listenOptions.ApplicationServices).GetOrCreate(options.CertificateAuthority, loggerFactory, meterFactory);
            var pages = options.EnableCertificateDownload ? new ProxyHostPages(authority, options.ProxyHost) : null;
            var logger = loggerFactory.CreateLogger("ProxTunnel.Tunnel");
            var settings = new RewriteSettings(options, pages, logger, ProxyTunnelMetrics.For(meterFactory));
            var middleware = new ProxyTunnelMiddleware(next, options, authority, settings, logger);
            return middleware.OnConnectionAsync;
        });
        return listenOptions;
    }

    private static void RestrictToHttp1(ListenOptions listenOptions)
    {
        if ((listenOptions.Protocols & HttpProtocols.Http1) == 0)
        {
            throw new InvalidOperationException(
                $"UseProxyTunnel needs HTTP/1.1 on the listener {listenOptions}, but its Protocols are {listenOptions.Protocols}. "
                + "Proxy clients speak HTTP/1.1 to a proxy: set Protocols to HttpProtocols.Http1 (or leave the default).");
        }

        // Proxy clients speak HTTP/1.1 to proxies; on plaintext Kestrel would otherwise probe for an h2c preface.
        listenOptions.Protocols = HttpProtocols.Http1;
    }
}
