using System.Net;
using System.Net.Security;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging.Console;
using ProxTunnel.Certificates;
using ProxTunnel.Resolvers;

namespace ProxTunnel.Gateway;

/// <summary>Hosts the proxy listeners and the inspector or upstream forwarder behind them.</summary>
internal static class GatewayServer
{
    /// <summary>Runs until Ctrl+C / SIGTERM or <paramref name="cancellationToken"/>; returns the exit code.</summary>
    public static async Task<int> RunAsync(GatewaySettings settings, CancellationToken cancellationToken)
    {
        IProxyPrefixResolver? resolver;
        try
        {
            resolver = CreateResolver(settings);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            await Console.Error.WriteLineAsync($"error: --auth-users: {ex.Message}".AsMemory(), cancellationToken).ConfigureAwait(false);
            return ExitCodes.Failure;
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        ConfigureLogging(builder.Logging, settings.LogLevel);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton(services => new ProxyCertificateAuthority(
            new CertificateAuthorityOptions { RootCertificatePath = settings.CaPath }, services.GetRequiredService<ILoggerFactory>(), meterFactory: services.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        if (settings.Upstream is not null)
        {
            builder.Services.AddHttpForwarder();
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // A proxy carries uploads of any size; the app (inspector or upstream) decides what it accepts.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.AddServerHeader = false;
            var authority = kestrel.ApplicationServices.GetRequiredService<ProxyCertificateAuthority>();
            foreach (var endpoint in settings.Listen)
            {
                Listen(kestrel, endpoint, l => l.UseProxyTunnel(t => ConfigureTunnel(t, settings, resolver, authority)));
            }

            foreach (var endpoint in settings.ListenTls)
            {
                Listen(kestrel, endpoint, l =>
                {
                    l.UseHttps(new TlsHandshakeCallbackOptions { OnConnection = context => SelectCertificate(context, authority) });
                    l.UseProxyTunnel(t => ConfigureTunnel(t, settings, resolver, authority));
                });
            }
        });

        WebApplication app;
        try
        {
            // Building creates Kestrel, whose options load the CA: a missing, corrupt or unreadable root surfaces here.
            app = builder.Build();
        }
        catch (InvalidOperationException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}".AsMemory(), cancellationToken).ConfigureAwait(false);
            return ExitCodes.Failure;
        }

        await using (app.ConfigureAwait(false))
        {
            var authority = app.Services.GetRequiredService<ProxyCertificateAuthority>();

            HarWriter? har;
            try
            {
                har = settings.HarPath is null ? null : HarWriter.Create(settings.HarPath);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"error: --har: {ex.Message}".AsMemory(), cancellationToken).ConfigureAwait(false);
                return ExitCodes.Failure;
            }

            var accessLog = AccessLog.Create(app.Services);
            try
            {
                return await ServeAsync(app, settings, authority, accessLog, har, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                // After the host stopped: every exchange it let finish is logged, and in the file before the closing ]}}.
                await accessLog.DisposeAsync().ConfigureAwait(false);
                if (har is not null)
                {
                    await har.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    private static async Task<int> ServeAsync(WebApplication app, GatewaySettings settings, ProxyCertificateAuthority authority, AccessLog accessLog,
        HarWriter? har, CancellationToken cancellationToken)
    {
        ExchangeRecording.Use(app, accessLog, har);
        if (settings.Upstream is { } upstream)
        {
            UpstreamForwarding.Map(app, upstream);
        }
        else
        {
            app.UseWebSockets();
            app.Run(Inspector.HandleAsync);
        }

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}".AsMemory(), CancellationToken.None).ConfigureAwait(false);
            har?.DiscardOnClose();
            return ExitCodes.Failure;
        }

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
        await StartupBanner.WriteAsync(Console.Out, settings, authority, addresses, TimeProvider.System, cancellationToken).ConfigureAwait(false);
        await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        return ExitCodes.Success;
    }

    private static void ConfigureLogging(ILoggingBuilder logging, LogLevel level)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });

        // stdout carries the start-up banner only; every log line goes to stderr.
        logging.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        logging.SetMinimumLevel(level);
        var frameworkLevel = level < LogLevel.Information ? level : LogLevel.Warning;
        logging.AddFilter("Microsoft.AspNetCore", frameworkLevel);
        logging.AddFilter("Microsoft.Hosting", frameworkLevel);
        logging.AddFilter("Microsoft.Extensions.Hosting", frameworkLevel);
        logging.AddFilter("System.Net.Http", frameworkLevel);
        logging.AddFilter("Yarp", frameworkLevel);

        // With this category enabled at all, hosting starts an Activity per request, and YARP then sends a traceparent
        // upstream: about a sixth of the --upstream path's CPU. Its request lines are Debug-level detail here anyway.
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", level <= LogLevel.Debug ? level : LogLevel.None);

        // A failed start (port in use) is reported on one line by the gateway; the host's stack trace only at Debug.
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", level <= LogLevel.Debug ? level : LogLevel.Critical);
    }

    private static void Listen(KestrelServerOptions kestrel, ListenEndpoint endpoint, Action<ListenOptions> configure)
    {
        if (endpoint.IsLocalhost)
        {
            kestrel.ListenLocalhost(endpoint.Port, configure);
        }
        else
        {
            kestrel.Listen(endpoint.Address!, endpoint.Port, configure);
        }
    }

    /// <summary>One resolver for every listener, so the htpasswd file is loaded and its accepted credentials remembered once.</summary>
    private static IProxyPrefixResolver? CreateResolver(GatewaySettings settings) => settings switch
    {
        { AuthRealm: null } => null,
        { AuthUsers: { } users } => new HtpasswdPrefixResolver(users, settings.AuthRealm),
        _ => new ProxyAuthPrefixResolver(settings.AuthRealm),
    };

    private static void ConfigureTunnel(ProxyTunnelOptions options, GatewaySettings settings, IProxyPrefixResolver? resolver, ProxyCertificateAuthority authority)
    {
        options.CertificateAuthorityInstance = authority;
        options.Prefix = settings.Prefix;
        options.ProxyHost = settings.ProxyHost;
        foreach (var alias in settings.ProxyAliases)
        {
            options.ProxyHosts.Add(alias);
        }

        if (resolver is not null)
        {
            options.PrefixResolver = resolver;
        }
    }

    private static ValueTask<SslServerAuthenticationOptions> SelectCertificate(TlsHandshakeCallbackContext context, ProxyCertificateAuthority authority)
    {
        // No SNI, or one that is no host name (some clients send "host:port"): the certificate names the listener's address.
        if (!authority.TryGetCertificateContext(context.ClientHelloInfo.ServerName, out var certificate))
        {
            var local = (context.Connection.LocalEndPoint as IPEndPoint)?.Address ?? IPAddress.Loopback;
            certificate = authority.GetCertificateContext((local.IsIPv4MappedToIPv6 ? local.MapToIPv4() : local).ToString());
        }

        return ValueTask.FromResult(new SslServerAuthenticationOptions
        {
            ServerCertificateContext = certificate,
            ApplicationProtocols = [SslApplicationProtocol.Http11],
        });
    }
}
