using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ProxTunnel.Certificates;

/// <summary>Builds host (leaf) certificates signed by the root: in OpenSSL itself where <paramref name="openSsl"/> is
/// given (<see cref="OpenSslLeafSigner"/>), else with <see cref="CertificateRequest"/>; the bytes signed are the same.</summary>
internal sealed class HostCertificateFactory(RootAuthority root, TimeSpan lifetime, OpenSslLeafSigner? openSsl)
{
    /// <summary>How far notBefore is back-dated, for clients whose clock is behind.</summary>
    internal static readonly TimeSpan BackDating = TimeSpan.FromDays(1);

    // The extensions every leaf shares, made once: building them per issuance was most of its managed work, which with
    // cold caches (a lone new host between handshakes) cost about three times what it costs in a loop.
    private static readonly X509BasicConstraintsExtension NotAnAuthority = new(certificateAuthority: false, hasPathLengthConstraint: false, 0, critical: true);
    private static readonly X509KeyUsageExtension SignatureUsage = new(X509KeyUsageFlags.DigitalSignature, critical: true);

    // RSA key transport in TLS 1.2 suites.
    private static readonly X509KeyUsageExtension RsaUsage = new(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, critical: true);
    private static readonly X509EnhancedKeyUsageExtension ServerAuthenticationUsage = new([new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication")], critical: false);
    private readonly X509AuthorityKeyIdentifierExtension _authorityKeyIdentifier = X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(root.SubjectKeyIdentifier);

    /// <summary>Issues a certificate for <paramref name="target"/> over <paramref name="key"/>. The caller owns the
    /// certificate (which holds its own handle to the key); the key is only read.</summary>
    internal X509Certificate2 Issue(CertificateTarget target, DateTimeOffset now, AsymmetricAlgorithm key)
        => Issue(target, now, key, CertificateKeys.NewSerialNumber());

    /// <summary><see cref="Issue(CertificateTarget, DateTimeOffset, AsymmetricAlgorithm)"/> with a given serial number. The
    /// key is wrapped as shared: it stays the caller's to dispose.</summary>
    internal X509Certificate2 Issue(CertificateTarget target, DateTimeOffset now, AsymmetricAlgorithm key, byte[] serial)
        => Issue(target, now, LeafKey.Of(key, isShared: true), serial);

    /// <summary>Over a leaf key whose public half and subject key identifier were made with it.</summary>
    internal X509Certificate2 Issue(CertificateTarget target, DateTimeOffset now, LeafKey leafKey, byte[] serial)
    {
        var key = leafKey.Algorithm;
        var subject = BuildSubject(target);
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
        X509Extension[] extensions =
        [
            NotAnAuthority, key is RSA ? RsaUsage : SignatureUsage, ServerAuthenticationUsage,
            names.Build(critical: subject.RawData.Length <= 2), _authorityKeyIdentifier, leafKey.SubjectKeyIdentifier,
        ];

        var notAfter = now + lifetime;
        if (notAfter > root.NotAfter)
        {
            // A leaf outliving its issuer would be rejected anyway; end together with the root.
            notAfter = root.NotAfter;
        }

        var notBefore = now - BackDating;
        if (openSsl?.TrySign(subject, key, extensions, notBefore, notAfter, serial) is { } signed)
        {
            return signed;
        }

        var request = new CertificateRequest(subject, leafKey.PublicKey, HashAlgorithmName.SHA256);
        foreach (var extension in extensions)
        {
            request.CertificateExtensions.Add(extension);
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
