namespace ProxTunnel.Certificates;

/// <summary>Formats the root certificate can be exported in. None of them carries the private key.</summary>
public enum CertificateExportFormat
{
    /// <summary>PEM text, certificate only.</summary>
    Pem,

    /// <summary>PKCS#12 with the certificate only, no key, empty password.</summary>
    Pkcs12,

    /// <summary>DER bytes (a <c>.cer</c> file).</summary>
    Der,
}
