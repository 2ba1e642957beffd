using Microsoft.Extensions.Configuration;
using ProxTunnel;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="ProxyTunnelOptions"/> so <c>UseProxyTunnel</c> can take them from configuration.</summary>
public static class ProxyTunnelServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="ProxyTunnelOptions"/> from the configuration section <c>ProxyTunnel</c> (when an
    /// <see cref="IConfiguration"/> is registered) and applies <paramref name="configure"/> after it.
    /// </summary>
    public static IServiceCollection AddProxyTunnel(this IServiceCollection services, Action<ProxyTunnelOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = services.AddOptions<ProxyTunnelOptions>().BindConfiguration(ProxyTunnelOptions.SectionName);
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        builder.Validate(options =>
        {
            options.Validate();
            return true;
        });
        return services;
    }
}
