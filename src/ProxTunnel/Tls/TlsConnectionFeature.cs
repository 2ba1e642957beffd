using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace ProxTunnel.Tls;

/// <summary>
/// The TLS facts Kestrel reads from a connection, as its own HTTPS middleware sets them: their presence makes
/// requests <c>https</c> (<c>Request.IsHttps</c>), and the handshake details reach the app.
/// </summary>
internal sealed class TlsConnectionFeature(SslStream sslStream, string? hostName)
    : ITlsConnectionFeature, ITlsHandshakeFeature, ITlsApplicationProtocolFeature, ISslStreamFeature
{
    public X509Certificate2? ClientCertificate { get; set; }

    public SslStream SslStream { get; } = sslStream;

    public ReadOnlyMemory<byte> ApplicationProtocol => SslStream.NegotiatedApplicationProtocol.Protocol;

    public SslProtocols Protocol => SslStream.SslProtocol;

    public TlsCipherSuite? NegotiatedCipherSuite => SslStream.NegotiatedCipherSuite;

    public string HostName { get; } = hostName ?? "";

#pragma warning disable SYSLIB0058 // The interface still has the legacy cipher members; they report what SslStream knows.
    public CipherAlgorithmType CipherAlgorithm => SslStream.CipherAlgorithm;

    public int CipherStrength => SslStream.CipherStrength;

    public HashAlgorithmType HashAlgorithm => SslStream.HashAlgorithm;

    public int HashStrength => SslStream.HashStrength;

    public ExchangeAlgorithmType KeyExchangeAlgorithm => SslStream.KeyExchangeAlgorithm;

    public int KeyExchangeStrength => SslStream.KeyExchangeStrength;
#pragma warning restore SYSLIB0058

    public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult(ClientCertificate);
}
