using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace ProxTunnel.Certificates;

/// <summary>The loaded root: its certificate (without key), its signing key and what leaves need from it.</summary>
internal sealed class RootAuthority : IDisposable
{
    private RootAuthority(string path, X509Certificate2 certificate, AsymmetricAlgorithm key, bool created)
    {
        Path = path;
        Certificate = certificate;
        Key = key;
        Created = created;
        SignatureGenerator = CertificateKeys.CreateSignatureGenerator(key);
        CommonName = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        SubjectKeyIdentifier = certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault()?.SubjectKeyIdentifierBytes.ToArray()
            // A root without SKI (rare, old files): use the RFC 5280 method 1 key id, which is what it would have had.
            ?? new X509SubjectKeyIdentifierExtension(certificate.PublicKey, critical: false).SubjectKeyIdentifierBytes.ToArray();
        Sha256Fingerprint = FormatFingerprint(certificate);
    }

    internal string Path { get; }

    /// <summary>The root certificate, public part only.</summary>
    internal X509Certificate2 Certificate { get; }

    internal AsymmetricAlgorithm Key { get; }

    internal X509SignatureGenerator SignatureGenerator { get; }

    internal string CommonName { get; }

    internal byte[] SubjectKeyIdentifier { get; }

    internal string Sha256Fingerprint { get; }

    internal bool Created { get; }

    internal DateTimeOffset NotAfter => new(Certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);

    /// <summary>Loads the root file, or creates it when it does not exist.</summary>
    internal static RootAuthority LoadOrCreate(string path, CertificateAuthorityOptions options, DateTimeOffset now)
    {
        if (Directory.Exists(path))
        {
            throw new InvalidOperationException($"Cannot read the root CA file '{path}': it is a directory; give the path of a file.");
        }

        if (!File.Exists(path))
        {
            var (certificate, key, pem) = CreateRoot(options, now);
            try
            {
                if (PrivateFile.TryWrite(path, pem, overwrite: false))
                {
                    return new RootAuthority(path, certificate, key, created: true);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                certificate.Dispose();
                key.Dispose();
                throw new InvalidOperationException($"Cannot create the root CA file '{path}': {ex.Message}", ex);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(pem);
            }

            // Another process created the file between our check and our move: use theirs, so all instances share one root.
            certificate.Dispose();
            key.Dispose();
        }

        return Load(path);
    }

    /// <summary>Writes a new root file; throws when one exists already.</summary>
    internal static void CreateFile(string path, CertificateAuthorityOptions options, DateTimeOffset now)
    {
        var (certificate, key, pem) = CreateRoot(options, now);
        using (certificate)
        using (key)
        {
            try
            {
                if (!PrivateFile.TryWrite(path, pem, overwrite: false))
                {
                    throw new InvalidOperationException($"The root CA file '{path}' already exists.");
                }
            }
            finally
            {
                CryptographicOperations.ZeroMemory(pem);
            }
        }
    }

    /// <summary>Loads an existing root file. Throws <see cref="InvalidOperationException"/> naming the path when it cannot be used; the file is never modified.</summary>
    internal static RootAuthority Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Cannot read the root CA file '{path}': {ex.Message}", ex);
        }

        X509Certificate2 withPublicKey;
        AsymmetricAlgorithm key;
        try
        {
            (withPublicKey, key) = KeyAndCertificatePem.Decode(text);
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException($"Cannot parse the root CA file '{path}': {ex.Message}", ex);
        }

        var constraints = withPublicKey.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        if (constraints is { CertificateAuthority: false })
        {
            withPublicKey.Dispose();
            key.Dispose();
            throw new InvalidOperationException($"The certificate in the root CA file '{path}' is not a CA certificate (basicConstraints CA:FALSE).");
        }

        return new RootAuthority(path, withPublicKey, key, created: false);
    }

    /// <summary>Signs a host certificate; the subject's key is given as a public key.</summary>
    internal X509Certificate2 Sign(CertificateRequest request, DateTimeOffset notBefore, DateTimeOffset notAfter, byte[] serial)
        => request.Create(Certificate.SubjectName, SignatureGenerator, notBefore, notAfter, serial);

    public void Dispose()
    {
        Certificate.Dispose();
        Key.Dispose();
    }

    private static (X509Certificate2 Certificate, AsymmetricAlgorithm Key, byte[] Pem) CreateRoot(CertificateAuthorityOptions options, DateTimeOffset now)
    {
        var key = CertificateKeys.Create(options.RootKeyAlgorithm);
        try
        {
            var subject = new X500DistinguishedNameBuilder();
            subject.AddCommonName(options.RootCommonName);
            var request = key switch
            {
                RSA rsa => new CertificateRequest(subject.Build(), rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
                ECDsa ecdsa => new CertificateRequest(subject.Build(), ecdsa, HashAlgorithmName.SHA256),
                _ => throw new NotSupportedException(),
            };
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, 0, critical: true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
            var ski = new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false);
            request.CertificateExtensions.Add(ski);
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(ski));

            // Back-dated like the leaves, so a client whose clock is a little behind still accepts it.
            using var withKey = request.Create(
                subject.Build(), CertificateKeys.CreateSignatureGenerator(key), now.AddDays(-1), now + options.RootLifetime, CertificateKeys.NewSerialNumber());
            var pem = KeyAndCertificatePem.Encode(key, withKey.RawData);
            return (X509CertificateLoader.LoadCertificate(withKey.RawData), key, pem);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static string FormatFingerprint(X509Certificate2 certificate)
    {
        var hex = certificate.GetCertHashString(HashAlgorithmName.SHA256);
        var builder = new StringBuilder((hex.Length / 2 * 3) - 1);
        for (var i = 0; i < hex.Length; i += 2)
        {
            if (i > 0)
            {
                builder.Append(':');
            }

            builder.Append(hex, i, 2);
        }

        return builder.ToString();
    }
}
