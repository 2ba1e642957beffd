using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using ProxTunnel.Certificates;
using ProxTunnel.Connect;
using ProxTunnel.Diagnostics;
using ProxTunnel.Http2;
using ProxTunnel.Rewriting;
using ProxTunnel.Tls;

namespace ProxTunnel.Connection;

/// <summary>
/// The Kestrel connection middleware behind <c>UseProxyTunnel</c>. It drives the stages of one connection: TLS to the
/// proxy itself (<see cref="TlsTerminator"/>), the rewriter (<see cref="RewritingPipeReader"/>, the one head parser),
/// CONNECT (<see cref="ConnectAuthorizer"/>), TLS inside the tunnel, and Kestrel, run in passes on contexts of their own
/// (<see cref="KestrelPassContext"/>) so a tunnel after other requests lives as long as any other.
/// </summary>
internal sealed class ProxyTunnelMiddleware
{
    private const byte TlsHandshakeRecord = 0x16;
    private static readonly TimeSpan LingerTime = TimeSpan.FromMilliseconds(500);
    private const long MaxLingerBytes = 1 << 20;

    private readonly ConnectionDelegate _next;
    private readonly ProxyTunnelOptions _options;
    private readonly RewriteSettings _settings;
    private readonly TlsTerminator _tls;
    private readonly ConnectAuthorizer _connect;
    private readonly Http2Settings _http2;
    private readonly ILogger _logger;
    private int _activeTunnels;

    public ProxyTunnelMiddleware(ConnectionDelegate next, ProxyTunnelOptions options, ProxyCertificateAuthority authority, RewriteSettings settings,
        Http2Settings http2, ILogger logger)
    {
        _next = next;
        _options = options;
        _settings = settings;
        _http2 = http2;
        _tls = new TlsTerminator(options, authority, settings, http2, logger);
        _connect = new ConnectAuthorizer(settings, logger);
        _logger = logger;
    }

    public async Task OnConnectionAsync(ConnectionContext context)
    {
        var layer = new TransportLayer(context.Transport.Input, context.Transport.Output);
        TransportLayer? proxyTls = null;
        using var rewriter = new RewritingPipeReader(_settings, context.ConnectionId);
        using var deadline = new ConnectionDeadline();
        try
        {
            // A client that sends nothing is closed quietly; once bytes arrive, the rewriter bounds the head (408).
            var first = await PeekFirstByteAsync(layer.Input, deadline.Start(_options.RequestHeadersTimeout));
            deadline.Stop();
            if (first < 0)
            {
                return;
            }

            if (first == TlsHandshakeRecord && context.Features.Get<ITlsConnectionFeature>() is null)
            {
                // A client configured for an HTTPS proxy: TLS to the proxy itself, then CONNECT or absolute-form inside.
                proxyTls = await _tls.AcceptAsync(context, layer, fallbackHost: LocalAddress(context), inTunnel: false);
                if (proxyTls is null)
                {
                    return;
                }

                layer = proxyTls;
            }

            var sniffer = new ResponseSniffingWriter(layer.Output);
            rewriter.Start(layer.Input, layer.Output, sniffer, tunnel: null);
            await rewriter.PrepareAsync(CancellationToken.None);
            if (rewriter.PendingConnect is null && !rewriter.IsEnded)
            {
                // Absolute-form requests, or ordinary requests to this server; a CONNECT may still follow. The pass is
                // run inline (as RunKestrelPassAsync does) so an idle keep-alive connection suspends one frame less.
                var pass = new KestrelPassContext(context, new DuplexPipe(rewriter, sniffer));
                try
                {
                    await _next(pass);
                }
                finally
                {
                    pass.End();
                }
            }

            if (rewriter.PendingConnect is { } connect && !rewriter.Refused)
            {
                await RunTunnelAsync(context, layer, connect, rewriter, sniffer, deadline);
                return;
            }

            await LingerIfRefusedAsync(rewriter.Refused, layer);
        }
        catch (OperationCanceledException) when (deadline.Expired)
        {
            ProxyTunnelLog.ClientGone(_logger, context.ConnectionId, "the client sent nothing in time");
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException)
        {
            ProxyTunnelLog.ClientGone(_logger, context.ConnectionId, ex.Message);
        }
        finally
        {
            if (proxyTls is not null)
            {
                await proxyTls.DisposeAsync();
            }
        }
    }

    private async Task RunTunnelAsync(ConnectionContext context, TransportLayer layer, ConnectRequest connect,
        RewritingPipeReader rewriter, ResponseSniffingWriter sniffer, ConnectionDeadline deadline)
    {
        var authorized = await _connect.AuthorizeAsync(connect, layer.Output, context.ConnectionId, context.ConnectionClosed);

        // The CONNECT head has served the authorizer; only a prefix resolver reads its headers again (tunnel requests).
        connect.Forget(keepHeaders: _settings.FixedPrefix is null);
        if (!authorized)
        {
            await LingerIfRefusedAsync(refused: true, layer);
            return;
        }

        var limit = _options.MaxConcurrentTunnels;
        if (Interlocked.Increment(ref _activeTunnels) > limit && limit > 0)
        {
            Interlocked.Decrement(ref _activeTunnels);
            ProxyTunnelLog.TunnelLimitReached(_logger, context.ConnectionId, limit);
            await ProxyResponses.RefuseAsync(layer.Output, RejectReason.TooManyTunnels, null, _logger, _settings.Metrics, context.ConnectionId);
            await LingerIfRefusedAsync(refused: true, layer);
            return;
        }

        _settings.Metrics.TunnelsOpened.Add(1);
        _settings.Metrics.TunnelsActive.Add(1);
        TransportLayer? tls = null;
        try
        {
            var issuing = _tls.StartIssuing(connect.Host, connect.Port);
            await layer.Output.WriteAsync(connect.Http10 ? ProxyResponses.ConnectEstablished10 : ProxyResponses.ConnectEstablished11);
            var first = await PeekFirstByteAsync(layer.Input, deadline.Start(_options.TlsHandshakeTimeout));
            deadline.Stop();
            if (first < 0)
            {
                return;
            }

            if (first == TlsHandshakeRecord)
            {
                tls = await _tls.AcceptAsync(context, layer, connect.Host, inTunnel: true, issuing);
                if (tls is null)
                {
                    return;
                }
            }
            else
            {
                TlsTerminator.ClearFeatures(context);
            }

            var tunnelLayer = tls ?? layer;
            var serverName = tls?.ServerName;
            var isTls = tls is not null;
            ProxyTunnelLog.TunnelOpened(_logger, context.ConnectionId, connect.Host, connect.Port, isTls, serverName);
            context.Features.Set<IProxyTunnelFeature>(new ProxyTunnelFeature(connect.Host, connect.Port, serverName, isTls, connect.ProxyAuthorization));
            var target = new TunnelTarget(isTls, string.IsNullOrEmpty(serverName) ? connect.Host : serverName, connect.Port, connect.Headers);
            await ServeTunnelAsync(context, tunnelLayer, target, rewriter, sniffer);
        }
        finally
        {
            Interlocked.Decrement(ref _activeTunnels);
            _settings.Metrics.TunnelsActive.Add(-1);
            if (tls is not null)
            {
                await tls.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Serves the requests inside a tunnel. The input Kestrel gets is chosen here, once the tunnel's protocol is known:
    /// HTTP/2 (ALPN <c>h2</c>) gets the frame rewriter, HTTP/1.1 the rewriting reader.
    /// </summary>
    private async Task ServeTunnelAsync(ConnectionContext context, TransportLayer tunnelLayer, TunnelTarget target,
        RewritingPipeReader rewriter, ResponseSniffingWriter sniffer)
    {
        sniffer.Reset(tunnelLayer.Output);
        if (tunnelLayer.IsHttp2)
        {
            var wentAway = await Http2Tunnel.RunAsync(context, pass => RunKestrelPassAsync(context, pass), _http2, _settings,
                tunnelLayer.Input, sniffer, target);
            await LingerIfRefusedAsync(wentAway, tunnelLayer);
            return;
        }

        var transport = new DuplexPipe(rewriter, sniffer);
        while (true)
        {
            rewriter.Start(tunnelLayer.Input, tunnelLayer.Output, sniffer, target);
            await RunKestrelPassAsync(context, transport);

            // Kestrel ended its pass after an HTTP/1.0 keep-alive response it could not frame; when the writer gave
            // it a length, the client goes on with its next request on this tunnel, served by a new pass.
            if (rewriter.Refused || !await sniffer.FinishPassAsync(context.ConnectionClosed))
            {
                break;
            }

            ProxyTunnelLog.Http10ResponseGivenLength(_logger, context.ConnectionId);
        }

        await LingerIfRefusedAsync(rewriter.Refused, tunnelLayer);
    }

    /// <summary>
    /// Runs Kestrel's connection handler once, on a context of its own: another pass may follow on this connection (a
    /// CONNECT after requests, a tunnel that outlives an HTTP/1.0 response), and nothing of an ended pass may reach it.
    /// </summary>
    private async Task RunKestrelPassAsync(ConnectionContext context, IDuplexPipe transport)
    {
        var pass = new KestrelPassContext(context, transport);
        try
        {
            await _next(pass);
        }
        finally
        {
            pass.End();
        }
    }

    /// <summary>
    /// After the proxy refused a request, reads and drops what the client still sends, briefly: closing a socket with
    /// unread bytes sends a reset, which can destroy the responses to earlier pipelined requests still in flight.
    /// </summary>
    private static async Task LingerIfRefusedAsync(bool refused, TransportLayer layer)
    {
        if (!refused)
        {
            return;
        }

        var input = layer.Input;
        using var linger = new CancellationTokenSource(LingerTime);
        long drained = 0;
        try
        {
            // Our side is done: let the client see the end of the response stream while we drain.
            await layer.Output.CompleteAsync();
            for (var i = 0; i < 1024 && drained < MaxLingerBytes; i++)
            {
                var result = await input.ReadAsync(linger.Token);
                drained += result.Buffer.Length;
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ConnectionResetException or ConnectionAbortedException
            or InvalidOperationException)
        {
            // The client is gone or took too long: close now.
        }
    }

    /// <summary>The first byte the client sends, without taking it; -1 when the client closes first.</summary>
    private static async ValueTask<int> PeekFirstByteAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (!buffer.IsEmpty)
            {
                var first = buffer.FirstSpan[0];
                input.AdvanceTo(buffer.Start);
                return first;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return -1;
            }
        }
    }

    private static string LocalAddress(ConnectionContext context) => context.LocalEndPoint switch
    {
        IPEndPoint ip => ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4().ToString() : ip.Address.ToString(),
        _ => "localhost",
    };
}
