using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace ProxTunnel.Certificates;

/// <summary>A cached host certificate with its ready-made TLS context.</summary>
internal sealed class IssuedCertificate(X509Certificate2 certificate, SslStreamCertificateContext context, DateTimeOffset renewAt)
{
    internal X509Certificate2 Certificate { get; } = certificate;

    internal SslStreamCertificateContext Context { get; } = context;

    /// <summary>UTC ticks from which the certificate is replaced; a long so the hit path compares without conversions.</summary>
    internal long RenewAtUtcTicks { get; } = renewAt.UtcTicks;
}
