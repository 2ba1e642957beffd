using System.IO.Pipelines;
using System.Net.Security;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;
using ProxTunnel.Certificates;
using ProxTunnel.Connection;
using ProxTunnel.Diagnostics;
using ProxTunnel.Http2;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Tls;

/// <summary>
/// Terminates TLS on a connection layer (SPEC §4): inside a tunnel, and to the proxy itself. The certificate follows
/// the SNI name when it is a plain host name, else the fallback host (the CONNECT host, or the listener's address);
/// a failed or slow handshake closes that connection quietly. On success the TLS features Kestrel reads (scheme,
/// ALPN, handshake) are set on the connection. ALPN offers <c>h2</c> only inside tunnels to hosts the app answers (SPEC §4).
/// </summary>
internal sealed class TlsTerminator(ProxyTunnelOptions options, ProxyCertificateAuthority authority, RewriteSettings settings,
    Http2Settings http2, ILogger logger)
{
    private static readonly List<SslApplicationProtocol> Http11Only = [SslApplicationProtocol.Http11];
    private static readonly List<SslApplicationProtocol> Http2AndHttp11 = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11];
    private ServerOptionsSelectionCallback? _selectOptions;

    /// <summary>The TLS layer over <paramref name="layer"/>, or null when the handshake failed.</summary>
    public async Task<TlsLayer?> AcceptAsync(ConnectionContext context, IDuplexPipe layer, string fallbackHost, bool inTunnel)
    {
        var tls = new TlsLayer(new SslStream(new DuplexPipeStream(layer.Input, layer.Output), leaveInnerStreamOpen: true), fallbackHost, inTunnel);
        using var handshakeTimeout = new CancellationTokenSource(options.TlsHandshakeTimeout);
        try
        {
            // SslStream keeps the callback and its state for its whole life: one delegate per terminator, the layer as state.
            _selectOptions ??= SelectOptionsAsync;
            await tls.SslStream.AuthenticateAsServerAsync(_selectOptions, tls, handshakeTimeout.Token);
        }
#pragma warning disable CA1031 // Whatever a client's handshake throws ends that connection only, quietly.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            settings.Metrics.HandshakeFailures.Add(1);
            if (handshakeTimeout.IsCancellationRequested)
            {
                ProxyTunnelLog.HandshakeTimedOut(logger, context.ConnectionId);
            }
            else
            {
                ProxyTunnelLog.HandshakeFailed(logger, context.ConnectionId, ex);
            }

            await tls.SslStream.DisposeAsync();
            return null;
        }

        if (!inTunnel)
        {
            ProxyTunnelLog.ProxyTlsAccepted(logger, context.ConnectionId, tls.ServerName);
        }

        context.Features.Set<ITlsConnectionFeature>(tls);
        context.Features.Set<ITlsHandshakeFeature>(tls);
        context.Features.Set<ITlsApplicationProtocolFeature>(tls);
        context.Features.Set<ISslStreamFeature>(tls);
        var pool = context.Features.Get<IMemoryPoolFeature>()?.MemoryPool;
        tls.Open(
            PipeReader.Create(tls.SslStream, new StreamPipeReaderOptions(pool, bufferSize: pool is null ? 4096 : -1, minimumReadSize: -1, leaveOpen: true, useZeroByteReads: true)),
            PipeWriter.Create(tls.SslStream, new StreamPipeWriterOptions(pool, leaveOpen: true)));
        return tls;
    }

    /// <summary>Starts issuing the certificate a handshake with <paramref name="host"/> as its SNI name (or fallback) will want.</summary>
    public void PrepareCertificate(string host) => authority.PrepareForHandshake(host);

    /// <summary>The handshake's options for the client's hello; <paramref name="state"/> is the <see cref="TlsLayer"/> being opened.</summary>
    private async ValueTask<SslServerAuthenticationOptions> SelectOptionsAsync(SslStream stream, SslClientHelloInfo clientHello, object? state,
        CancellationToken cancellationToken)
    {
        var tls = (TlsLayer)state!;

        // SNI is the client's word: only a plain host name may name the certificate and the target.
        var serverName = TargetBuilder.CanonicalServerName(clientHello.ServerName);
        var certificate = await authority.FindCertificateContextAsync(serverName, cancellationToken);
        if (certificate is null)
        {
            serverName = null;
            certificate = await authority.FindCertificateContextAsync(tls.FallbackHost, cancellationToken) ?? authority.GetCertificateContext(tls.FallbackHost);
        }

        tls.SetServerName(serverName);
        return new SslServerAuthenticationOptions
        {
            ServerCertificateContext = certificate,
            ApplicationProtocols = tls.InTunnel && OffersHttp2(serverName ?? tls.FallbackHost) ? Http2AndHttp11 : Http11Only,
            EnabledSslProtocols = options.SslProtocols,
            ClientCertificateRequired = false,
            CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
        };
    }

    /// <summary>HTTP/2 only when it is on, and not to a proxy host: the library answers those itself, in HTTP/1.1.</summary>
    private bool OffersHttp2(string host) => http2.Enabled && settings.ClassifyHost(host) == 0;

    /// <summary>Plain HTTP over this connection (a plain tunnel, even inside TLS to the proxy): Kestrel takes the scheme from these.</summary>
    public static void ClearFeatures(ConnectionContext context)
    {
        context.Features.Set<ITlsConnectionFeature>(null);
        context.Features.Set<ITlsHandshakeFeature>(null);
        context.Features.Set<ITlsApplicationProtocolFeature>(null);
        context.Features.Set<ISslStreamFeature>(null);
    }
}
