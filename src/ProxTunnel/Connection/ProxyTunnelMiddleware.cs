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
    private const int TimedOut = -2;

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

    /// <summary>
    /// One frame for the connection's whole life: an idle connection or tunnel suspends only here (awaiting Kestrel's
    /// pass) and in the rewriter's read, holding what it still needs and nothing of the stages that are done (issue
    /// 13.1). Those stages (the first byte, TLS, CONNECT) run in methods of their own that have returned by then.
    /// </summary>
    public async Task OnConnectionAsync(ConnectionContext context)
    {
        // Locals here live as long as the connection: the sniffer and the tunnel's target are the rewriter's to keep.
        IDuplexPipe? layer = null;
        TlsLayer? tunnelTls = null;
        var tunnelOpen = false;
        var rewriter = new RewritingPipeReader(_settings, context.ConnectionId);
        try
        {
            layer = await OpenAsync(context);
            if (layer is null)
            {
                return;
            }

            rewriter.Start(layer.Input, layer.Output, new ResponseSniffingWriter(layer.Output), tunnel: null);
            await rewriter.PrepareAsync(CancellationToken.None);
            if (rewriter.PendingConnect is null && !rewriter.IsEnded)
            {
                // Absolute-form requests, or ordinary requests to this server; a CONNECT may still follow.
                var pass = new KestrelPassContext(context, rewriter, rewriter.Sniffer);
                try
                {
                    await _next(pass);
                }
                finally
                {
                    pass.End();
                }
            }

            if (rewriter.PendingConnect is null || rewriter.Refused)
            {
                await LingerIfRefusedAsync(rewriter.Refused, layer);
                return;
            }

            var tunnel = await OpenTunnelAsync(context, layer, rewriter.PendingConnect);
            if (tunnel.Target is null)
            {
                return;
            }

            // From here the tunnel is counted open, until the finally below closes it.
            tunnelOpen = true;
            tunnelTls = tunnel.Tls;
            IDuplexPipe tunnelLayer = tunnelTls ?? layer;
            rewriter.Sniffer.Reset(tunnelLayer.Output);
            if (tunnelTls?.IsHttp2 == true)
            {
                // The input Kestrel gets is chosen once the tunnel's protocol is known: HTTP/2 (ALPN h2) gets the frame rewriter.
                await ServeHttp2Async(context, tunnelTls, rewriter.Sniffer, tunnel.Target);
                return;
            }

            rewriter.Start(tunnelLayer.Input, tunnelLayer.Output, rewriter.Sniffer, tunnel.Target);
            while (true)
            {
                var pass = new KestrelPassContext(context, rewriter, rewriter.Sniffer);
                try
                {
                    await _next(pass);
                }
                finally
                {
                    pass.End();
                }

                // Kestrel ended its pass after an HTTP/1.0 keep-alive response it could not frame; when the writer gave
                // it a length, the client goes on with its next request on this tunnel, served by a new pass.
                if (rewriter.Refused || !await rewriter.Sniffer.FinishPassAsync(context.ConnectionClosed))
                {
                    break;
                }

                ProxyTunnelLog.Http10ResponseGivenLength(_logger, context.ConnectionId);
                rewriter.Restart();
            }

            await LingerIfRefusedAsync(rewriter.Refused, (IDuplexPipe?)tunnelTls ?? layer);
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException)
        {
            ProxyTunnelLog.ClientGone(_logger, context.ConnectionId, ex.Message);
        }
        finally
        {
            rewriter.Dispose();
            if (tunnelOpen)
            {
                CloseTunnel();
            }

            await DisposeLayersAsync(tunnelTls, layer as TlsLayer);
        }
    }

    /// <summary>
    /// Waits for the client's first byte and terminates TLS to the proxy itself when it starts a handshake: the layer
    /// the proxy reads heads from, or null when the connection ended here.
    /// </summary>
    private async Task<IDuplexPipe?> OpenAsync(ConnectionContext context)
    {
        // A client that sends nothing is closed quietly; once bytes arrive, the rewriter bounds the head (408).
        var first = await PeekFirstByteAsync(context.Transport.Input, _options.RequestHeadersTimeout);
        if (first < 0)
        {
            LogIfTimedOut(context, first);
            return null;
        }

        if (first != TlsHandshakeRecord || context.Features.Get<ITlsConnectionFeature>() is not null)
        {
            return context.Transport;
        }

        // A client configured for an HTTPS proxy: TLS to the proxy itself, then CONNECT or absolute-form inside.
        return await _tls.AcceptAsync(context, context.Transport, fallbackHost: LocalAddress(context), inTunnel: false);
    }

    private async Task ServeHttp2Async(ConnectionContext context, TlsLayer tls, ResponseSniffingWriter sniffer, TunnelTarget target)
    {
        var wentAway = await Http2Tunnel.RunAsync(context, pass => RunKestrelPassAsync(context, pass), _http2, _settings, tls.Input, sniffer, target);
        await LingerIfRefusedAsync(wentAway, tls);
    }

    private static async Task DisposeLayersAsync(TlsLayer? tunnelTls, TlsLayer? proxyTls)
    {
        if (tunnelTls is not null)
        {
            await tunnelTls.DisposeAsync();
        }

        if (proxyTls is not null)
        {
            await proxyTls.DisposeAsync();
        }
    }

    /// <summary>A tunnel ready for requests: its TLS layer (null for a plain tunnel) and where its requests point.</summary>
    private readonly record struct OpenedTunnel(TlsLayer? Tls, TunnelTarget? Target);

    /// <summary>
    /// Answers a CONNECT: authorizes it, counts the tunnel, says 200, and terminates TLS inside when the client starts
    /// it. Returns no target when the tunnel ended here (refused, closed, handshake failed); with a target, the tunnel
    /// is counted open until <see cref="CloseTunnel"/>. Nothing of the CONNECT stays reachable from the caller's frame
    /// but what the tunnel's requests read.
    /// </summary>
    private async Task<OpenedTunnel> OpenTunnelAsync(ConnectionContext context, IDuplexPipe layer, ConnectRequest connect)
    {
        var authorized = await _connect.AuthorizeAsync(connect, layer.Output, context.ConnectionId, context.ConnectionClosed);

        // The CONNECT head has served the authorizer; only a prefix resolver reads its headers again (tunnel requests).
        connect.Forget(keepHeaders: _settings.FixedPrefix is null);
        if (!authorized)
        {
            await LingerIfRefusedAsync(refused: true, layer);
            return default;
        }

        var limit = _options.MaxConcurrentTunnels;
        if (Interlocked.Increment(ref _activeTunnels) > limit && limit > 0)
        {
            Interlocked.Decrement(ref _activeTunnels);
            ProxyTunnelLog.TunnelLimitReached(_logger, context.ConnectionId, limit);
            await ProxyResponses.RefuseAsync(layer.Output, RejectReason.TooManyTunnels, null, _logger, _settings.Metrics, context.ConnectionId);
            await LingerIfRefusedAsync(refused: true, layer);
            return default;
        }

        _settings.Metrics.TunnelsOpened.Add(1);
        _settings.Metrics.TunnelsActive.Add(1);
        TlsLayer? tls = null;
        var opened = false;
        try
        {
            await layer.Output.WriteAsync(connect.Http10 ? ProxyResponses.ConnectEstablished10 : ProxyResponses.ConnectEstablished11);
            var first = await PeekFirstByteAsync(layer.Input, _options.TlsHandshakeTimeout);
            if (first < 0)
            {
                LogIfTimedOut(context, first);
                return default;
            }

            if (first == TlsHandshakeRecord)
            {
                tls = await _tls.AcceptAsync(context, layer, connect.Host, inTunnel: true);
                if (tls is null)
                {
                    return default;
                }
            }
            else
            {
                TlsTerminator.ClearFeatures(context);
            }

            // The SNI name is usually the CONNECT host: keep one string of it for the tunnel's life.
            if (tls?.ServerName == connect.Host)
            {
                tls.SetServerName(connect.Host);
            }

            var serverName = tls?.ServerName;
            var isTls = tls is not null;
            ProxyTunnelLog.TunnelOpened(_logger, context.ConnectionId, connect.Host, connect.Port, isTls, serverName);
            var target = new TunnelTarget(isTls, string.IsNullOrEmpty(serverName) ? connect.Host : serverName, connect.Port, connect.Headers,
                connect.Host, serverName, connect.ProxyAuthorization);
            context.Features.Set<IProxyTunnelFeature>(target);
            opened = true;
            return new OpenedTunnel(tls, target);
        }
        finally
        {
            if (!opened)
            {
                CloseTunnel();
                if (tls is not null)
                {
                    await tls.DisposeAsync();
                }
            }
        }
    }

    private void CloseTunnel()
    {
        Interlocked.Decrement(ref _activeTunnels);
        _settings.Metrics.TunnelsActive.Add(-1);
    }

    private void LogIfTimedOut(ConnectionContext context, int first)
    {
        if (first == TimedOut)
        {
            ProxyTunnelLog.ClientGone(_logger, context.ConnectionId, "the client sent nothing in time");
        }
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
    private static async Task LingerIfRefusedAsync(bool refused, IDuplexPipe layer)
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

    /// <summary>
    /// The first byte the client sends, without taking it; -1 when the client closes first, <see cref="TimedOut"/> when it
    /// sends nothing within <paramref name="timeout"/>. The timer lives only for this wait.
    /// </summary>
    private static async ValueTask<int> PeekFirstByteAsync(PipeReader input, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(deadline.Token);
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
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return TimedOut;
        }
    }

    private static string LocalAddress(ConnectionContext context) => context.LocalEndPoint switch
    {
        IPEndPoint ip => ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4().ToString() : ip.Address.ToString(),
        _ => "localhost",
    };
}
