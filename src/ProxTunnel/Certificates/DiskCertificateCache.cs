using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;

namespace ProxTunnel.Certificates;

/// <summary>
/// Keeps issued host certificates in a directory (one key+certificate PEM per cache key, mode 0600) so a restart
/// reuses them. Failures never reach the caller: the cache just degrades to memory only.
/// </summary>
internal sealed class DiskCertificateCache(string directory, RootAuthority root, TimeSpan renewBefore, ILogger logger)
{
    private int _writeWarningLogged;

    internal string Directory { get; } = Path.GetFullPath(directory);

    /// <summary>The file for a cache key; characters other than <c>[a-z0-9._-]</c> are percent-encoded (<c>*</c>, <c>:</c>).</summary>
    internal string GetPath(string key)
    {
        var name = new StringBuilder(key.Length + 8);
        foreach (var c in key)
        {
            if (char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-' or '_')
            {
                name.Append(c);
            }
            else
            {
                name.Append('%').Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return Path.Combine(Directory, name.Append(".pem").ToString());
    }

    /// <summary>A still-fresh certificate for <paramref name="key"/> issued by the current root, or null.</summary>
    internal X509Certificate2? TryLoad(string key, DateTimeOffset now)
    {
        var path = GetPath(key);
        if (!File.Exists(path))
        {
            return null;
        }

        X509Certificate2 certificate;
        AsymmetricAlgorithm privateKey;
        try
        {
            (certificate, privateKey) = KeyAndCertificatePem.Decode(File.ReadAllText(path, Encoding.UTF8));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or CryptographicException or ArgumentException)
        {
            CertificateAuthorityLog.CachedFileIgnored(logger, path, ex.Message);
            return null;
        }

        using (certificate)
        using (privateKey)
        {
            var reason = Check(certificate, now);
            if (reason is not null)
            {
                CertificateAuthorityLog.CachedFileIgnored(logger, path, reason);
                return null;
            }

            CertificateAuthorityLog.CachedFileLoaded(logger, key, path);
            return CertificateKeys.CopyWithPrivateKey(certificate, privateKey);
        }
    }

    /// <summary>Writes the certificate for <paramref name="key"/>, replacing an older one; logs instead of throwing.</summary>
    internal void Save(string key, AsymmetricAlgorithm privateKey, X509Certificate2 certificate)
    {
        byte[]? pem = null;
        try
        {
            pem = KeyAndCertificatePem.Encode(privateKey, certificate.RawData);
            PrivateFile.TryWrite(GetPath(key), pem, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            // Once per instance: a read-only directory would otherwise log on every new host.
            if (Interlocked.Exchange(ref _writeWarningLogged, 1) == 0)
            {
                CertificateAuthorityLog.CacheDirectoryUnwritable(logger, Directory, ex);
            }
        }
        finally
        {
            if (pem is not null)
            {
                CryptographicOperations.ZeroMemory(pem);
            }
        }
    }

    private string? Check(X509Certificate2 certificate, DateTimeOffset now)
    {
        if (certificate.IssuerName.RawData.AsSpan().SequenceEqual(root.Certificate.SubjectName.RawData) is false)
        {
            return "issued by another CA";
        }

        var authorityKeyId = certificate.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().FirstOrDefault()?.KeyIdentifier;
        if (authorityKeyId is null || !authorityKeyId.Value.Span.SequenceEqual(root.SubjectKeyIdentifier))
        {
            // Same name, different key: the root was replaced.
            return "issued by another root key";
        }

        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        if (now < notBefore || now >= notAfter - renewBefore)
        {
            return "expired or due for renewal";
        }

        return null;
    }
}
