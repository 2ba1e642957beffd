using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ProxTunnel.Certificates;

/// <summary>
/// The authorities that <c>UseProxyTunnel</c> creates itself, one per application and set of settings: listeners with
/// the same settings share one root load and one cache, and the host's shutdown disposes them.
/// </summary>
internal sealed class CertificateAuthorityRegistry : IDisposable
{
    private static readonly ConditionalWeakTable<IServiceProvider, CertificateAuthorityRegistry> Registries = new();

    private readonly Dictionary<string, ProxyCertificateAuthority> _authorities = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public static CertificateAuthorityRegistry For(IServiceProvider services) => Registries.GetValue(services, static s =>
    {
        var registry = new CertificateAuthorityRegistry();
        s.GetService<IHostApplicationLifetime>()?.ApplicationStopped.Register(registry.Dispose);
        return registry;
    });

    public ProxyCertificateAuthority GetOrCreate(CertificateAuthorityOptions options, ILoggerFactory loggerFactory, IMeterFactory? meterFactory)
    {
        var key = options.SettingsKey;
        lock (_lock)
        {
            if (!_authorities.TryGetValue(key, out var authority))
            {
                authority = new ProxyCertificateAuthority(options, loggerFactory, meterFactory: meterFactory);
                _authorities.Add(key, authority);
            }

            return authority;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var authority in _authorities.Values)
            {
                authority.Dispose();
            }

            _authorities.Clear();
        }
    }
}
