using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ProxTunnel.Certificates;

/// <summary>Creates keys of the configured <see cref="CertificateKeyAlgorithm"/> and signers over them.</summary>
internal static class CertificateKeys
{
    internal static AsymmetricAlgorithm Create(CertificateKeyAlgorithm algorithm)
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsFreeBSD())
        {
            return CreateOpenSsl(algorithm);
        }

        return algorithm switch
        {
            CertificateKeyAlgorithm.EcdsaP256 => ECDsa.Create(ECCurve.NamedCurves.nistP256),
            CertificateKeyAlgorithm.Rsa2048 => RSA.Create(2048),
            CertificateKeyAlgorithm.Rsa3072 => RSA.Create(3072),
            CertificateKeyAlgorithm.Rsa4096 => RSA.Create(4096),
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown key algorithm."),
        };
    }

    // ECDsa.Create/RSA.Create return wrappers that X509Certificate2.CopyWithPrivateKey does not recognise: it then
    // exports and re-imports the private key (about 100 µs of a 0.6 ms issuance). The OpenSSL types are attached by
    // reference (about 8 µs).
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("macos")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("ios")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("tvos")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("android")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("browser")]
    private static AsymmetricAlgorithm CreateOpenSsl(CertificateKeyAlgorithm algorithm) => algorithm switch
    {
        CertificateKeyAlgorithm.EcdsaP256 => new ECDsaOpenSsl(ECCurve.NamedCurves.nistP256),
        CertificateKeyAlgorithm.Rsa2048 => new RSAOpenSsl(2048),
        CertificateKeyAlgorithm.Rsa3072 => new RSAOpenSsl(3072),
        CertificateKeyAlgorithm.Rsa4096 => new RSAOpenSsl(4096),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown key algorithm."),
    };

    /// <summary>A signature generator over SHA-256: ecdsa-with-SHA256 or sha256WithRSAEncryption (PKCS#1 v1.5).</summary>
    internal static X509SignatureGenerator CreateSignatureGenerator(AsymmetricAlgorithm key) => key switch
    {
        ECDsa ecdsa => X509SignatureGenerator.CreateForECDsa(ecdsa),
        RSA rsa => X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1),
        _ => throw new NotSupportedException($"Unsupported key type {key.GetType().Name}."),
    };

    /// <summary>Attaches <paramref name="key"/> to a certificate that was built for its public half.</summary>
    internal static X509Certificate2 CopyWithPrivateKey(X509Certificate2 certificate, AsymmetricAlgorithm key) => key switch
    {
        ECDsa ecdsa => certificate.CopyWithPrivateKey(ecdsa),
        RSA rsa => certificate.CopyWithPrivateKey(rsa),
        _ => throw new NotSupportedException($"Unsupported key type {key.GetType().Name}."),
    };

    /// <summary>A positive, non-zero 128-bit serial number in minimal DER form (RFC 5280 §4.1.2.2 allows 20 octets).</summary>
    internal static byte[] NewSerialNumber()
    {
        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        // Top bit clear keeps the INTEGER positive; a non-zero first octet keeps it minimal and the whole value non-zero.
        serial[0] &= 0x7F;
        if (serial[0] == 0)
        {
            serial[0] = 0x01;
        }

        return serial;
    }
}
