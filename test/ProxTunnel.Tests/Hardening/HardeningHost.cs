using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxTunnel.Certificates;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Hardening;

/// <summary>
/// A Kestrel app behind UseProxyTunnel whose Kestrel limits the test sets (TestApp does not expose them): echo on every
/// path, <c>/big</c> streams 64 MiB, <c>/throw</c> throws.
/// </summary>
internal sealed class HardeningHost : IAsyncDisposable
{
    public const long BigResponseLength = 64L * 1024 * 1024;

    private readonly WebApplication _app;

    private HardeningHost(WebApplication app, ProxyCertificateAuthority authority, string directory)
    {
        _app = app;
        Authority = authority;
        Directory = directory;
    }

    public ConcurrentQueue<string> SeenTargets { get; } = new();

    public ProxyCertificateAuthority Authority { get; }

    public string Directory { get; }

    public int Port { get; private set; }

    public static async Task<HardeningHost> StartAsync(Action<ProxyTunnelOptions>? configure = null, Action<KestrelServerOptions>? kestrel = null,
        Action<CertificateAuthorityOptions, string>? authorityOptions = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-hardening", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var caOptions = new CertificateAuthorityOptions { RootCertificatePath = Path.Combine(directory, "ca.pem") };
        authorityOptions?.Invoke(caOptions, directory);
        var authority = new ProxyCertificateAuthority(caOptions);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(o =>
        {
            kestrel?.Invoke(o);
            o.Listen(IPAddress.Loopback, 0, l => l.UseProxyTunnel(t =>
            {
                t.CertificateAuthorityInstance = authority;
                t.Prefix = "/p/";
                configure?.Invoke(t);
            }));
        });
        var app = builder.Build();
        var host = new HardeningHost(app, authority, directory);
        app.Use((context, next) =>
        {
            host.SeenTargets.Enqueue(context.Features.Get<IHttpRequestFeature>()!.RawTarget);
            return next(context);
        });
        app.Use((context, next) =>
        {
            var target = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
            return target.EndsWith("://example.com/big", StringComparison.Ordinal) ? BigAsync(context)
                : target.EndsWith("://example.com/throw", StringComparison.Ordinal) ? throw new InvalidOperationException("the app failed on purpose")
                : next(context);
        });
        app.Map("/{**catchAll}", TestApp.EchoAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        host.Port = new Uri(address).Port;
        return host;
    }

    private static async Task BigAsync(HttpContext context)
    {
        context.Response.ContentLength = BigResponseLength;
        var block = new byte[64 * 1024];
        for (long sent = 0; sent < BigResponseLength; sent += block.Length)
        {
            await context.Response.Body.WriteAsync(block, context.RequestAborted);
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
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>
/// Watches the process-wide <c>proxtunnel.tunnels.active</c> UpDownCounter of the <c>ProxTunnel</c> meter: the sum of
/// deltas since this probe started. Tests that use it are NonParallelizable, so the deltas are theirs.
/// </summary>
internal sealed class TunnelMetricProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Lock _gate = new();
    private long _active;
    private (long Value, TaskCompletionSource Signal)? _waiter;

    public TunnelMetricProbe()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "ProxTunnel" && instrument.Name == "proxtunnel.tunnels.active")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, delta, _, _) =>
        {
            lock (_gate)
            {
                _active += delta;
                if (_waiter is { } waiter && _active == waiter.Value)
                {
                    waiter.Signal.TrySetResult();
                }
            }
        });
        _listener.Start();
    }

    /// <summary>Tunnels opened minus closed since the probe started.</summary>
    public long Active
    {
        get
        {
            lock (_gate)
            {
                return _active;
            }
        }
    }

    /// <summary>Waits (bounded) until the sum of deltas is <paramref name="value"/>; returns false on timeout.</summary>
    public async Task<bool> WaitForAsync(long value, TimeSpan timeout)
    {
        TaskCompletionSource signal;
        lock (_gate)
        {
            if (_active == value)
            {
                return true;
            }

            signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiter = (value, signal);
        }

        try
        {
            await signal.Task.WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        finally
        {
            lock (_gate)
            {
                _waiter = null;
            }
        }
    }

    public void Dispose() => _listener.Dispose();
}
