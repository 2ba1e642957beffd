using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace ProxTunnel.Certificates;

/// <summary>
/// The certauth/pywb file layout: one PEM text holding a private key and a certificate. Reads PKCS#1
/// (<c>RSA PRIVATE KEY</c>), SEC 1 (<c>EC PRIVATE KEY</c>) and PKCS#8 (<c>PRIVATE KEY</c>) keys in either order;
/// writes the traditional key form first, as certauth does.
/// </summary>
internal static class KeyAndCertificatePem
{
    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string EcOid = "1.2.840.10045.2.1";

    /// <summary>Returns the key followed by the certificate as UTF-8 PEM.</summary>
    internal static byte[] Encode(AsymmetricAlgorithm key, ReadOnlySpan<byte> certificateDer)
    {
        var keyPem = key switch
        {
            RSA rsa => rsa.ExportRSAPrivateKeyPem(),
            ECDsa ecdsa => ecdsa.ExportECPrivateKeyPem(),
            _ => throw new NotSupportedException($"Unsupported key type {key.GetType().Name}."),
        };
        var text = string.Concat(keyPem, "\n", PemEncoding.WriteString("CERTIFICATE", certificateDer), "\n");
        return Encoding.UTF8.GetBytes(text);
    }

    /// <summary>
    /// Parses the first certificate and the first private key of <paramref name="pem"/> and checks that they belong
    /// together. Throws <see cref="FormatException"/> or <see cref="CryptographicException"/> describing what is wrong.
    /// </summary>
    internal static (X509Certificate2 Certificate, AsymmetricAlgorithm Key) Decode(string pem)
    {
        byte[]? certificateDer = null;
        byte[]? keyDer = null;
        string? keyLabel = null;
        var text = pem.AsSpan();
        while (PemEncoding.TryFind(text, out var fields))
        {
            var label = text[fields.Label];
            if (certificateDer is null && label.SequenceEqual("CERTIFICATE"))
            {
                certificateDer = Convert.FromBase64String(text[fields.Base64Data].ToString());
            }
            else if (keyDer is null && label is "RSA PRIVATE KEY" or "EC PRIVATE KEY" or "PRIVATE KEY")
            {
                keyLabel = label.ToString();
                keyDer = Convert.FromBase64String(text[fields.Base64Data].ToString());
            }
            else if (label.SequenceEqual("ENCRYPTED PRIVATE KEY"))
            {
                throw new FormatException("the private key is encrypted; store it unencrypted (openssl ... -nodes)");
            }

            text = text[fields.Location.End.Value..];
        }

        if (certificateDer is null)
        {
            throw new FormatException("no PEM 'CERTIFICATE' block found");
        }

        if (keyDer is null)
        {
            throw new FormatException("no PEM private key block (RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY) found");
        }

        try
        {
            var certificate = X509CertificateLoader.LoadCertificate(certificateDer);
            try
            {
                return (certificate, ImportMatchingKey(certificate, keyLabel!, keyDer));
            }
            catch
            {
                certificate.Dispose();
                throw;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(keyDer);
        }
    }

    private static AsymmetricAlgorithm ImportMatchingKey(X509Certificate2 certificate, string label, byte[] der)
    {
        switch (certificate.GetKeyAlgorithm())
        {
            case RsaOid:
            {
                var rsa = RSA.Create();
                try
                {
                    if (label == "RSA PRIVATE KEY")
                    {
                        rsa.ImportRSAPrivateKey(der, out _);
                    }
                    else if (label == "PRIVATE KEY")
                    {
                        rsa.ImportPkcs8PrivateKey(der, out _);
                    }
                    else
                    {
                        throw new FormatException("the certificate has an RSA key but the private key is an EC key");
                    }

                    using var publicKey = certificate.GetRSAPublicKey()!;
                    var expected = publicKey.ExportParameters(false);
                    var actual = rsa.ExportParameters(false);
                    if (!expected.Modulus.AsSpan().SequenceEqual(actual.Modulus) || !expected.Exponent.AsSpan().SequenceEqual(actual.Exponent))
                    {
                        throw new FormatException("the private key does not belong to the certificate");
                    }

                    return rsa;
                }
                catch
                {
                    rsa.Dispose();
                    throw;
                }
            }

            case EcOid:
            {
                var ecdsa = ECDsa.Create();
                try
                {
                    if (label == "EC PRIVATE KEY")
                    {
                        ecdsa.ImportECPrivateKey(der, out _);
                    }
                    else if (label == "PRIVATE KEY")
                    {
                        ecdsa.ImportPkcs8PrivateKey(der, out _);
                    }
                    else
                    {
                        throw new FormatException("the certificate has an EC key but the private key is an RSA key");
                    }

                    using var publicKey = certificate.GetECDsaPublicKey()!;
                    var expected = publicKey.ExportParameters(false).Q;
                    var actual = ecdsa.ExportParameters(false).Q;
                    if (!expected.X.AsSpan().SequenceEqual(actual.X) || !expected.Y.AsSpan().SequenceEqual(actual.Y))
                    {
                        throw new FormatException("the private key does not belong to the certificate");
                    }

                    return ecdsa;
                }
                catch
                {
                    ecdsa.Dispose();
                    throw;
                }
            }

            default:
                throw new FormatException($"unsupported key algorithm {certificate.GetKeyAlgorithm()} (RSA or ECDSA expected)");
        }
    }
}
