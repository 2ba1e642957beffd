using System.Text;
using Microsoft.Extensions.Logging;
using ProxTunnel.Diagnostics;
using ProxTunnel.ProxyHost;
using ProxTunnel.Resolvers;

namespace ProxTunnel.Rewriting;

/// <summary>What every rewriter on one listener shares, computed once at start-up from <see cref="ProxyTunnelOptions"/>.</summary>
internal sealed class RewriteSettings
{
    public RewriteSettings(ProxyTunnelOptions options, ProxyHostPages? pages, ILogger logger, ProxyTunnelMetrics? metrics = null)
    {
        Resolver = options.PrefixResolver ?? new FixedPrefixResolver(options.Prefix);
        FixedPrefix = Resolver is FixedPrefixResolver fixedResolver ? Encoding.ASCII.GetBytes(fixedResolver.Prefix) : null;
        ProxyHost = options.ProxyHost.ToLowerInvariant();
        ExtraProxyHosts = [.. options.ProxyHosts.Select(h => h.ToLowerInvariant())];
        Pages = pages;
        MaxRequestLineSize = options.MaxRequestLineSize;
        MaxRequestHeadersTotalSize = options.MaxRequestHeadersTotalSize;
        RequestHeadersTimeout = options.RequestHeadersTimeout;
        Logger = logger;
        Metrics = metrics ?? ProxyTunnelMetrics.For(meterFactory: null);
    }

    public IProxyPrefixResolver Resolver { get; }

    /// <summary>Set when the resolver is a <see cref="FixedPrefixResolver"/>: the hot path copies these bytes and calls nothing.</summary>
    public byte[]? FixedPrefix { get; }

    public string ProxyHost { get; }

    public string[] ExtraProxyHosts { get; }

    /// <summary>Null when certificate download is disabled: then every path on the proxy host goes to the app.</summary>
    public ProxyHostPages? Pages { get; }

    public int MaxRequestLineSize { get; }

    public int MaxRequestHeadersTotalSize { get; }

    public TimeSpan RequestHeadersTimeout { get; }

    public ILogger Logger { get; }

    public ProxyTunnelMetrics Metrics { get; }

    /// <summary>0 for an ordinary host, 1 for the library's own host, 2 for an extra proxy host.</summary>
    public int ClassifyHost(string host) => ClassifyHost(Encoding.ASCII.GetBytes(host));

    /// <inheritdoc cref="ClassifyHost(string)"/>
    public int ClassifyHost(scoped ReadOnlySpan<byte> host)
        => Urls.HostName.IsCanonical(host) ? ClassifyCanonicalHost(host) : ClassifyOtherHost(host);

    private int ClassifyOtherHost(scoped ReadOnlySpan<byte> host)
    {
        // Compared in canonical form (HostName, as the options are), so every spelling of a proxy host is that host.
        Span<byte> canonical = stackalloc byte[Urls.HostName.MaxLength];
        var length = Urls.HostName.WriteCanonical(host, canonical);
        return ClassifyCanonicalHost(length < 0 ? host : canonical[..length]);
    }

    /// <summary><see cref="ClassifyHost(ReadOnlySpan{byte})"/> of a host known to be canonical (<see cref="Urls.HostName.IsCanonical"/>).</summary>
    public int ClassifyCanonicalHost(scoped ReadOnlySpan<byte> host)
    {
        if (Ascii.EqualsIgnoreCase(host, ProxyHost))
        {
            return 1;
        }

        foreach (var extra in ExtraProxyHosts)
        {
            if (Ascii.EqualsIgnoreCase(host, extra))
            {
                return 2;
            }
        }

        return 0;
    }
}
