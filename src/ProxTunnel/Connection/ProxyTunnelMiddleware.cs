using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;
using ProxTunnel.Certificates;
using ProxTunnel.Diagnostics;
using ProxTunnel.Resolvers;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Connection;

/// <summary>
/// The Kestrel connection middleware behind <c>UseProxyTunnel</c>: answers CONNECT, terminates TLS inside tunnels
/// (and TLS to the proxy itself), and hands Kestrel a rewriting input so every proxied request reaches the app with a
/// prefixed target.
/// </summary>
internal sealed class ProxyTunnelMiddleware
{
    private static readonly List<SslApplicationProtocol> Http11Only = [SslApplicationProtocol.Http11];

    private readonly ConnectionDelegate _next;
    private readonly ProxyTunnelOptions _options;
    private readonly ProxyCertificateAuthority _authority;
    private readonly RewriteSettings _settings;
    private readonly ILogger _logger;
    private int _activeTunnels;

    public ProxyTunnelMiddleware(ConnectionDelegate next, ProxyTunnelOptions options, ProxyCertificateAuthority authority, RewriteSettings settings, ILogger logger)
    {
        _next = next;
        _options = options;
        _authority = authority;
        _settings = settings;
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
            if (context.Features.Get<ITlsConnectionFeature>() is null)
            {
                var first = await PeekFirstByteAsync(layer.Input, deadline.Start(_options.RequestHeadersTimeout));
                deadline.Stop();
                if (first < 0)
                {
                    return;
                }

                if (first == TlsHandshakeRecord)
                {
                    // A client configured for an HTTPS proxy: TLS to the proxy itself, then CONNECT or absolute-form inside.
                    proxyTls = await AcceptTlsAsync(context, layer, fallbackHost: LocalAddress(context), tunnelTarget: null);
                    if (proxyTls is null)
                    {
                        return;
                    }

                    layer = proxyTls;
                }
            }

            var sniffer = new ResponseSniffingWriter(layer.Output);
            var expectConnect = false;
            while (true)
            {
                var connect = await ReadConnectAsync(context, layer, deadline.Start(_options.RequestHeadersTimeout));
                deadline.Stop();
                if (connect is null && expectConnect)
                {
                    // The rewriter stopped at a CONNECT this parser does not see: never loop on it.
                    await WriteErrorAsync(context, layer.Output, RejectReason.InvalidRequestLine);
                    await LingerIfRefusedAsync(refused: true, layer);
                    return;
                }

                if (connect is null)
                {
                    // Not a CONNECT: a plain proxy connection (absolute-form) or ordinary requests to this server.
                    rewriter.Start(layer.Input, layer.Output, sniffer, tunnel: null);
                    await RunKestrelPassAsync(context, new DuplexPipe(rewriter, sniffer));

                    if (!rewriter.StoppedAtConnect)
                    {
                        await LingerIfRefusedAsync(rewriter.Refused, layer);
                        return;
                    }

                    expectConnect = true;
                    continue;
                }

                if (connect.Refused)
                {
                    await LingerIfRefusedAsync(refused: true, layer);
                    return;
                }

                await RunTunnelAsync(context, layer, connect, rewriter, sniffer, deadline);
                return;
            }
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

    private const byte TlsHandshakeRecord = 0x16;

    private async Task RunTunnelAsync(ConnectionContext context, TransportLayer layer, ConnectRequest connect,
        RewritingPipeReader rewriter, ResponseSniffingWriter sniffer, ConnectionDeadline deadline)
    {
        var limit = _options.MaxConcurrentTunnels;
        if (Interlocked.Increment(ref _activeTunnels) > limit && limit > 0)
        {
            Interlocked.Decrement(ref _activeTunnels);
            ProxyTunnelLog.TunnelLimitReached(_logger, context.ConnectionId, limit);
            await WriteErrorAsync(context, layer.Output, RejectReason.TooManyTunnels);
            await LingerIfRefusedAsync(refused: true, layer);
            return;
        }

        ProxyTunnelMetrics.TunnelsOpened.Add(1);
        ProxyTunnelMetrics.TunnelsActive.Add(1);
        TransportLayer? tls = null;
        var tunnelLayer = layer;
        try
        {
            await layer.Output.WriteAsync(connect.Http10 ? ProxyResponses.ConnectEstablished10 : ProxyResponses.ConnectEstablished11);
            var first = await PeekFirstByteAsync(layer.Input, deadline.Start(_options.TlsHandshakeTimeout));
            deadline.Stop();
            if (first < 0)
            {
                return;
            }

            string? serverName = null;
            if (first == TlsHandshakeRecord)
            {
                tls = await AcceptTlsAsync(context, layer, connect.Host, connect);
                if (tls is null)
                {
                    return;
                }

                tunnelLayer = tls;
                serverName = tls.ServerName;
            }

            var isTls = tls is not null;
            if (!isTls)
            {
                // Plain HTTP inside the tunnel, even when the connection to the proxy is TLS: Kestrel takes the scheme from these.
                ClearTlsFeatures(context);
            }

            var host = string.IsNullOrEmpty(serverName) ? connect.Host : serverName;
            ProxyTunnelLog.TunnelOpened(_logger, context.ConnectionId, connect.Host, connect.Port, isTls, serverName);
            context.Features.Set<IProxyTunnelFeature>(new ProxyTunnelFeature(connect.Host, connect.Port, serverName, isTls, connect.ProxyAuthorization));
            sniffer.Reset(tunnelLayer.Output);
            var target = new TunnelTarget(isTls, host, connect.Port, connect.Headers);
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
            }

            await LingerIfRefusedAsync(rewriter.Refused, tunnelLayer);
        }
        finally
        {
            Interlocked.Decrement(ref _activeTunnels);
            ProxyTunnelMetrics.TunnelsActive.Add(-1);
            if (tls is not null)
            {
                await tls.DisposeAsync();
            }
        }
    }

    /// <summary>Reads the first head if it is a CONNECT; returns null (and leaves the bytes unread) when it is not.</summary>
    private async Task<ConnectRequest?> ReadConnectAsync(ConnectionContext context, TransportLayer layer, CancellationToken cancellationToken)
    {
        var input = layer.Input;
        var scanned = 0;
        var requestLineEnd = 0;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var start = buffer;
            buffer = buffer.Slice(RequestHeadParser.LeadingEmptyLines(buffer));
            var probeLength = (int)Math.Min(buffer.Length, 8);
            Span<byte> probe = stackalloc byte[8];
            buffer.Slice(0, probeLength).CopyTo(probe);
            if (!"CONNECT "u8.StartsWith(probe[..probeLength]))
            {
                input.AdvanceTo(start.Start);
                return null;
            }

            if (probeLength < 8)
            {
                if (result.IsCompleted)
                {
                    input.AdvanceTo(start.End);
                    return ConnectRequest.RefusedRequest;
                }

                input.AdvanceTo(start.Start, start.End);
                continue;
            }

            var data = buffer.IsSingleSegment ? buffer.FirstSpan : buffer.Slice(0, Math.Min(buffer.Length, _options.MaxRequestLineSize + _options.MaxRequestHeadersTotalSize + 1)).ToArray();
            var headLength = RequestHeadParser.FindHeadEnd(data, ref scanned, ref requestLineEnd, _options.MaxRequestLineSize, _options.MaxRequestHeadersTotalSize, out var reason);
            if (headLength == 0)
            {
                if (result.IsCompleted)
                {
                    input.AdvanceTo(start.End);
                    return ConnectRequest.RefusedRequest;
                }

                input.AdvanceTo(start.Start, start.End);
                continue;
            }

            if (headLength < 0)
            {
                input.AdvanceTo(start.End);
                await WriteErrorAsync(context, layer.Output, reason);
                return ConnectRequest.RefusedRequest;
            }

            var head = new RequestHead();
            var headBytes = data[..headLength].ToArray();
            reason = RequestHeadParser.Parse(headBytes, requestLineEnd, head);
            input.AdvanceTo(buffer.GetPosition(headLength));
            if (reason == RejectReason.None && head.HasBody)
            {
                reason = RejectReason.InvalidConnectTarget;
            }

            if (reason != RejectReason.None)
            {
                await WriteErrorAsync(context, layer.Output, reason);
                return ConnectRequest.RefusedRequest;
            }

            return await AcceptConnectAsync(context, layer, headBytes, head);
        }
    }

    private async Task<ConnectRequest> AcceptConnectAsync(ConnectionContext context, TransportLayer layer, byte[] headBytes, RequestHead head)
    {
        var authority = head.Target(headBytes);
        if (TargetBuilder.ParseAuthority(authority, out var hostRange, out var port) != RejectReason.None)
        {
            await WriteErrorAsync(context, layer.Output, RejectReason.InvalidConnectTarget);
            return ConnectRequest.RefusedRequest;
        }

        var host = Encoding.ASCII.GetString(authority[hostRange]).ToLowerInvariant();
        if (host.StartsWith('['))
        {
            host = host[1..^1];
        }
        else if (host.EndsWith('.'))
        {
            host = host[..^1];
        }

        var headers = head.ToDictionary(headBytes);

        if (_settings.FixedPrefix is null)
        {
            var request = new ProxyRequestContext();
            request.Set(headBytes, head, "https", TargetBuilder.NormalizeHost(host), port, "", isTunnel: true, headers);
            ProxyPrefixResult decision;
            try
            {
                decision = await _settings.Resolver.ResolveAsync(request, context.ConnectionClosed);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                ProxyTunnelLog.ResolverFailed(_logger, context.ConnectionId, ex);
                await WriteErrorAsync(context, layer.Output, RejectReason.ResolverFailed);
                return ConnectRequest.RefusedRequest;
            }

            if (decision.ChallengeRealm is { } realm)
            {
                await WriteErrorAsync(context, layer.Output, RejectReason.ProxyAuthenticationRequired, realm);
                return ConnectRequest.RefusedRequest;
            }
        }

        headers.TryGetValue("Proxy-Authorization", out var proxyAuthorization);
        return new ConnectRequest(host, port, head.IsHttp10, headers, proxyAuthorization);
    }

    private async Task<TransportLayer?> AcceptTlsAsync(ConnectionContext context, TransportLayer layer, string fallbackHost, ConnectRequest? tunnelTarget)
    {
        var sslStream = new SslStream(new DuplexPipeStream(layer.Input, layer.Output), leaveInnerStreamOpen: true);
        string? serverName = null;
        using var handshakeTimeout = new CancellationTokenSource(_options.TlsHandshakeTimeout);
        try
        {
            await sslStream.AuthenticateAsServerAsync(
                (stream, clientHello, state, cancellationToken) =>
                {
                    // SNI is the client's word: only a plain host name may name the certificate and the target.
                    serverName = TargetBuilder.IsPlainHostName(clientHello.ServerName) ? clientHello.ServerName.ToLowerInvariant() : null;
                    if (serverName is null || !_authority.TryGetCertificateContext(serverName, out var certificate))
                    {
                        serverName = null;
                        certificate = _authority.GetCertificateContext(fallbackHost);
                    }

                    return ValueTask.FromResult(new SslServerAuthenticationOptions
                    {
                        ServerCertificateContext = certificate,
                        ApplicationProtocols = Http11Only,
                        EnabledSslProtocols = _options.SslProtocols,
                        ClientCertificateRequired = false,
                        CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
                    });
                },
                null,
                handshakeTimeout.Token);
        }
#pragma warning disable CA1031 // Whatever a client's handshake throws ends that connection only, quietly.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ProxyTunnelMetrics.HandshakeFailures.Add(1);
            if (handshakeTimeout.IsCancellationRequested)
            {
                ProxyTunnelLog.HandshakeTimedOut(_logger, context.ConnectionId);
            }
            else
            {
                ProxyTunnelLog.HandshakeFailed(_logger, context.ConnectionId, ex);
            }

            await sslStream.DisposeAsync();
            return null;
        }

        if (tunnelTarget is null)
        {
            ProxyTunnelLog.ProxyTlsAccepted(_logger, context.ConnectionId, serverName);
        }

        var feature = new TlsConnectionFeature(sslStream, serverName);
        context.Features.Set<ITlsConnectionFeature>(feature);
        context.Features.Set<ITlsHandshakeFeature>(feature);
        context.Features.Set<ITlsApplicationProtocolFeature>(feature);
        context.Features.Set<ISslStreamFeature>(feature);
        var pool = context.Features.Get<IMemoryPoolFeature>()?.MemoryPool;
        var input = PipeReader.Create(sslStream, new StreamPipeReaderOptions(pool, bufferSize: pool is null ? 4096 : -1, minimumReadSize: -1, leaveOpen: true, useZeroByteReads: true));
        var output = PipeWriter.Create(sslStream, new StreamPipeWriterOptions(pool, leaveOpen: true));
        return new TransportLayer(input, output, sslStream, serverName);
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

    private static void ClearTlsFeatures(ConnectionContext context)
    {
        context.Features.Set<ITlsConnectionFeature>(null);
        context.Features.Set<ITlsHandshakeFeature>(null);
        context.Features.Set<ITlsApplicationProtocolFeature>(null);
        context.Features.Set<ISslStreamFeature>(null);
    }

    private ValueTask WriteErrorAsync(ConnectionContext context, PipeWriter output, RejectReason reason, string? realm = null)
        => ProxyResponses.RefuseAsync(output, reason, realm, _logger, context.ConnectionId);

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

    private static readonly TimeSpan LingerTime = TimeSpan.FromMilliseconds(500);
    private const long MaxLingerBytes = 1 << 20;

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

    /// <summary>One layer of the connection: the raw transport, or TLS on top of it.</summary>
    private sealed class TransportLayer(PipeReader input, PipeWriter output, SslStream? sslStream = null, string? serverName = null) : IAsyncDisposable
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;

        public string? ServerName { get; } = serverName;

        public async ValueTask DisposeAsync()
        {
            if (sslStream is null)
            {
                return;
            }

            try
            {
                await Input.CompleteAsync();

                // Completing flushes what is left; the client may be gone by now.
                await Output.CompleteAsync();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
            {
            }
            finally
            {
                await sslStream.DisposeAsync();
            }
        }
    }

    private sealed class ConnectRequest(string host, int port, bool http10, IReadOnlyDictionary<string, string> headers, string? proxyAuthorization)
    {
        public static readonly ConnectRequest RefusedRequest = new("", 0, false, new Dictionary<string, string>(), null) { Refused = true };

        public string Host { get; } = host;

        public int Port { get; } = port;

        public bool Http10 { get; } = http10;

        public IReadOnlyDictionary<string, string> Headers { get; } = headers;

        public string? ProxyAuthorization { get; } = proxyAuthorization;

        public bool Refused { get; private init; }
    }
}
