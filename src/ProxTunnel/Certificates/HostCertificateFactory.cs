using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ProxTunnel.Certificates;

/// <summary>Builds host (leaf) certificates signed by the root: in OpenSSL itself where <paramref name="openSsl"/> is
/// given (<see cref="OpenSslLeafSigner"/>), else with <see cref="CertificateRequest"/>; the bytes signed are the same.</summary>
internal sealed class HostCertificateFactory(RootAuthority root, TimeSpan lifetime, OpenSslLeafSigner? openSsl)
{
    /// <summary>How far notBefore is back-dated, for clients whose clock is behind.</summary>
    internal static readonly TimeSpan BackDating = TimeSpan.FromDays(1);

    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    /// <summary>Issues a certificate for <paramref name="target"/> over <paramref name="key"/>. The caller owns the
    /// certificate (which holds its own handle to the key); the key is only read.</summary>
    internal X509Certificate2 Issue(CertificateTarget target, DateTimeOffset now, AsymmetricAlgorithm key)
        => Issue(target, now, key, CertificateKeys.NewSerialNumber());

    /// <summary><see cref="Issue(CertificateTarget, DateTimeOffset, AsymmetricAlgorithm)"/> with a given serial number, and
    /// <paramref name="publicKey"/> (<paramref name="key"/>'s public half) when the caller has it encoded already.</summary>
    internal X509Certificate2 Issue(CertificateTarget target, DateTimeOffset now, AsymmetricAlgorithm key, byte[] serial, PublicKey? publicKey = null)
    {
        var request = new CertificateRequest(BuildSubject(target), publicKey ?? new PublicKey(key), HashAlgorithmName.SHA256);
        var extensions = request.CertificateExtensions;
        extensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, 0, critical: true));
        var usage = key is RSA
            ? X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment // RSA key transport in TLS 1.2 suites
            : X509KeyUsageFlags.DigitalSignature;
        extensions.Add(new X509KeyUsageExtension(usage, critical: true));
        extensions.Add(new X509EnhancedKeyUsageExtension([ServerAuthentication], critical: false));

        var names = new SubjectAlternativeNameBuilder();
        if (target.Address is { } address)
        {
            names.AddIpAddress(address);
        }

        foreach (var dnsName in target.DnsNames)
        {
            names.AddDnsName(dnsName);
        }

        // RFC 5280 §4.2.1.6: with an empty subject the SAN extension must be critical.
        extensions.Add(names.Build(critical: request.SubjectName.RawData.Length <= 2));
        extensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(root.SubjectKeyIdentifier));
        extensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));

        var notAfter = now + lifetime;
        if (notAfter > root.NotAfter)
        {
            // A leaf outliving its issuer would be rejected anyway; end together with the root.
            notAfter = root.NotAfter;
        }

        var notBefore = now - BackDating;
        if (openSsl?.TrySign(request.SubjectName, key, extensions, notBefore, notAfter, serial) is { } signed)
        {
            return signed;
        }

        using var certificate = root.Sign(request, notBefore, notAfter, serial);
        return CertificateKeys.CopyWithPrivateKey(certificate, key);
    }

    private X500DistinguishedName BuildSubject(CertificateTarget target)
    {
        var builder = new X500DistinguishedNameBuilder();
        // CN is legacy (clients match the SAN) and limited to 64 characters; it must also not look like the root's.
        if (target.CommonName is { } commonName && !string.Equals(commonName, root.CommonName, StringComparison.OrdinalIgnoreCase))
        {
            builder.AddCommonName(commonName);
        }

        return builder.Build();
    }
}
