using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace ProxTunnel.Tls;

/// <summary>
/// TLS terminated on a connection layer: the pipes over the <see cref="SslStream"/>, and the TLS facts Kestrel reads,
/// as its own HTTPS middleware sets them (their presence makes requests <c>https</c>, <c>Request.IsHttps</c>, and the
/// handshake details reach the app). One object for both, since an idle TLS connection keeps it for its whole life.
/// </summary>
internal sealed class TlsLayer(SslStream sslStream, string fallbackHost, bool inTunnel)
    : IDuplexPipe, IAsyncDisposable, ITlsConnectionFeature, ITlsHandshakeFeature, ITlsApplicationProtocolFeature, ISslStreamFeature
{
    private PipeReader? _input;
    private PipeWriter? _output;

    public PipeReader Input => _input!;

    public PipeWriter Output => _output!;

    public SslStream SslStream { get; } = sslStream;

    /// <summary>The host whose certificate is used when SNI names none: the CONNECT host, or the listener's address.</summary>
    public string FallbackHost { get; } = fallbackHost;

    /// <summary>True inside a CONNECT tunnel, false for TLS to the proxy itself.</summary>
    public bool InTunnel { get; } = inTunnel;

    /// <summary>The TLS layer this one runs over (TLS inside a tunnel inside TLS to the proxy), closed after this one.</summary>
    public TlsLayer? Outer { get; set; }

    /// <summary>The SNI name the client sent, when it named a plain host.</summary>
    public string? ServerName { get; private set; }

    /// <summary>True when ALPN chose HTTP/2 on this layer.</summary>
    public bool IsHttp2 => SslStream.NegotiatedApplicationProtocol == SslApplicationProtocol.Http2;

    public X509Certificate2? ClientCertificate { get; set; }

    public ReadOnlyMemory<byte> ApplicationProtocol => SslStream.NegotiatedApplicationProtocol.Protocol;

    public SslProtocols Protocol => SslStream.SslProtocol;

    public TlsCipherSuite? NegotiatedCipherSuite => SslStream.NegotiatedCipherSuite;

    public string HostName => ServerName ?? "";

#pragma warning disable SYSLIB0058 // The interface still has the legacy cipher members; they report what SslStream knows.
    public CipherAlgorithmType CipherAlgorithm => SslStream.CipherAlgorithm;

    public int CipherStrength => SslStream.CipherStrength;

    public HashAlgorithmType HashAlgorithm => SslStream.HashAlgorithm;

    public int HashStrength => SslStream.HashStrength;

    public ExchangeAlgorithmType KeyExchangeAlgorithm => SslStream.KeyExchangeAlgorithm;

    public int KeyExchangeStrength => SslStream.KeyExchangeStrength;
#pragma warning restore SYSLIB0058

    public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult(ClientCertificate);

    /// <summary>Records the SNI name during the handshake: null unless it named a plain host the certificate follows.</summary>
    public void SetServerName(string? serverName) => ServerName = serverName;

    /// <summary>Opens the pipes once the handshake succeeded.</summary>
    public void Open(PipeReader input, PipeWriter output)
    {
        _input = input;
        _output = output;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_input is not null)
            {
                await _input.CompleteAsync();
            }

            // Completing flushes what is left; the client may be gone by now.
            if (_output is not null)
            {
                await _output.CompleteAsync();
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            await SslStream.DisposeAsync();
        }
    }
}
