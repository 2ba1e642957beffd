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

    public Task OnConnectionAsync(ConnectionContext context)
    {
        var rewriter = new RewritingPipeReader(_settings, context.ConnectionId);
        return ServeAsync(rewriter, new KestrelPassContext(context, rewriter));
    }

    /// <summary>
    /// One frame for the connection's whole life, holding the rewriter and the current pass only: an idle connection or
    /// tunnel suspends here (awaiting Kestrel's pass) and nowhere else of ours (issue 13.1). The stages around the
    /// passes (the first byte, TLS, CONNECT, what follows a pass) run in methods of their own that have returned by
    /// then; what they leave for later (the TLS layers, the tunnel count) is kept by the rewriter.
    /// </summary>
    private async Task ServeAsync(RewritingPipeReader rewriter, KestrelPassContext pass)
    {
        try
        {
            await OpenAsync(rewriter, pass.Parent);
            while (!rewriter.IsEnded)
            {
                try
                {
                    await _next(pass);
                }
                finally
                {
                    pass.End();
                }

                pass = new KestrelPassContext(pass.Parent, rewriter);
                await AfterPassAsync(rewriter, pass.Parent);
            }

            if (rewriter.TunnelOpen && rewriter.Tls is { IsHttp2: true } tls)
            {
                // The input Kestrel gets is chosen once the tunnel's protocol is known: HTTP/2 (ALPN h2) gets the frame rewriter.
                await ServeHttp2Async(pass.Parent, tls, rewriter.Sniffer);
            }
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException)
        {
            ProxyTunnelLog.ClientGone(_logger, pass.ConnectionId, ex.Message);
        }
        finally
        {
            await CloseAsync(rewriter);
        }
    }

    /// <summary>
    /// Waits for the client's first byte, terminates TLS to the proxy itself when it starts a handshake, and reads the
    /// first head: the rewriter is left with a head for Kestrel, a tunnel opened from a first CONNECT, or ended.
    /// </summary>
    private async Task OpenAsync(RewritingPipeReader rewriter, ConnectionContext context)
    {
        // A client that sends nothing is closed quietly; once bytes arrive, the rewriter bounds the head (408).
        var first = await PeekFirstByteAsync(context.Transport.Input, _options.RequestHeadersTimeout);
        if (first < 0)
        {
            LogIfTimedOut(context, first);
            rewriter.Complete();
            return;
        }

        var layer = context.Transport;
        if (first == TlsHandshakeRecord && context.Features.Get<ITlsConnectionFeature>() is null)
        {
            // A client configured for an HTTPS proxy: TLS to the proxy itself, then CONNECT or absolute-form inside.
            rewriter.Tls = await _tls.AcceptAsync(context, context.Transport, fallbackHost: LocalAddress(context), inTunnel: false);
            if (rewriter.Tls is null)
            {
                rewriter.Complete();
                return;
            }

            layer = rewriter.Tls;
        }

        rewriter.Start(layer.Input, new ResponseSniffingWriter(layer.Output), tunnel: null);
        await rewriter.PrepareAsync(CancellationToken.None);
        if (rewriter.IsEnded)
        {
            // A CONNECT (or a refusal) before any request for Kestrel.
            await AfterPassAsync(rewriter, context);
        }
    }

    /// <summary>
    /// What follows a Kestrel pass (or a first head that was not for Kestrel): a CONNECT opens its tunnel; inside an
    /// HTTP/1.1 tunnel, a pass that ended after an HTTP/1.0 keep-alive response the writer gave a length is followed by
    /// another; a refusal lingers. The rewriter is left started for the next pass, or ended.
    /// </summary>
    private async Task AfterPassAsync(RewritingPipeReader rewriter, ConnectionContext context)
    {
        if (rewriter.TunnelOpen)
        {
            // Kestrel ended its pass after an HTTP/1.0 keep-alive response it could not frame; when the writer gave it
            // a length, the client goes on with its next request on this tunnel, served by a new pass.
            if (!rewriter.Refused && await rewriter.Sniffer.FinishPassAsync(context.ConnectionClosed))
            {
                ProxyTunnelLog.Http10ResponseGivenLength(_logger, context.ConnectionId);
                rewriter.Restart();
                return;
            }

            rewriter.Complete();
            await LingerIfRefusedAsync(rewriter.Refused, Layer(rewriter, context));
            return;
        }

        rewriter.Complete();
        if (rewriter.PendingConnect is not { } connect || rewriter.Refused)
        {
            await LingerIfRefusedAsync(rewriter.Refused, Layer(rewriter, context));
            return;
        }

        await OpenTunnelAsync(rewriter, context, connect);
    }

    /// <summary>The layer the rewriter reads now: the innermost TLS layer, else the connection's own transport.</summary>
    private static IDuplexPipe Layer(RewritingPipeReader rewriter, ConnectionContext context) => (IDuplexPipe?)rewriter.Tls ?? context.Transport;

    /// <summary>Ends what the connection kept: the rewriter's state, the tunnel count, the TLS layers (innermost first).</summary>
    private async Task CloseAsync(RewritingPipeReader rewriter)
    {
        rewriter.Dispose();
        if (rewriter.TunnelOpen)
        {
            CloseTunnel();
        }

        for (var tls = rewriter.Tls; tls is not null; tls = tls.Outer)
        {
            await tls.DisposeAsync();
        }
    }

    private async Task ServeHttp2Async(ConnectionContext context, TlsLayer tls, ResponseSniffingWriter sniffer)
    {
        // The tunnel's target is its feature, set when it opened.
        var target = (TunnelTarget)context.Features.Get<IProxyTunnelFeature>()!;
        var wentAway = await Http2Tunnel.RunAsync(context, pass => RunKestrelPassAsync(context, pass), _http2, _settings, tls.Input, sniffer, target);
        await LingerIfRefusedAsync(wentAway, tls);
    }

    /// <summary>
    /// Answers a CONNECT: authorizes it, counts the tunnel, says 200, and terminates TLS inside when the client starts
    /// it. When the tunnel opens, it is counted open (<see cref="RewritingPipeReader.TunnelOpen"/>) until
    /// <see cref="CloseTunnel"/>, its TLS layer joins the rewriter's, and the rewriter is started on it for HTTP/1.1
    /// (an HTTP/2 tunnel is served by the caller); otherwise the rewriter stays ended. Nothing of the CONNECT stays
    /// reachable but what the tunnel's requests read.
    /// </summary>
    private async Task OpenTunnelAsync(RewritingPipeReader rewriter, ConnectionContext context, ConnectRequest connect)
    {
        var layer = Layer(rewriter, context);
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
        TlsLayer? tls = null;
        var opened = false;
        try
        {
            await layer.Output.WriteAsync(connect.Http10 ? ProxyResponses.ConnectEstablished10 : ProxyResponses.ConnectEstablished11);

            // Most tunnels but those to port 80 start TLS for the CONNECT host: a new host's certificate is made while
            // the 200 reaches the client and its hello comes back.
            if (connect.Port != 80)
            {
                _tls.PrepareCertificate(connect.Host);
            }

            var first = await PeekFirstByteAsync(layer.Input, _options.TlsHandshakeTimeout);
            if (first < 0)
            {
                LogIfTimedOut(context, first);
                return;
            }

            if (first == TlsHandshakeRecord)
            {
                tls = await _tls.AcceptAsync(context, layer, connect.Host, inTunnel: true);
                if (tls is null)
                {
                    return;
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
            rewriter.TunnelOpen = true;
            IDuplexPipe tunnelLayer = layer;
            if (tls is not null)
            {
                // The rewriter keeps the innermost layer; it closes the one it runs over after itself.
                tls.Outer = rewriter.Tls;
                rewriter.Tls = tls;
                tunnelLayer = tls;
            }

            rewriter.Sniffer.Reset(tunnelLayer.Output);
            if (tls?.IsHttp2 != true)
            {
                rewriter.Start(tunnelLayer.Input, rewriter.Sniffer, target);
            }
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
