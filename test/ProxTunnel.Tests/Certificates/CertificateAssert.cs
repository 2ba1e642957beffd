using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ProxTunnel.Tests.Certificates;

/// <summary>Shared checks on issued certificates.</summary>
internal static class CertificateAssert
{
    public const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";

    public static void ChainBuilds(X509Certificate2 root, X509Certificate2 leaf, DateTime? at = null)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ServerAuthOid));
        if (at is { } time)
        {
            chain.ChainPolicy.VerificationTime = time;
        }

        var built = chain.Build(leaf);
        Assert.That(built, Is.True, string.Join("; ", chain.ChainStatus.Select(s => $"{s.Status}: {s.StatusInformation}")));
        Assert.That(chain.ChainElements, Has.Count.EqualTo(2));
    }

    public static T Extension<T>(X509Certificate2 certificate)
        where T : X509Extension
    {
        var extension = certificate.Extensions.OfType<T>().SingleOrDefault();
        Assert.That(extension, Is.Not.Null, $"{typeof(T).Name} missing");
        return extension!;
    }

    public static byte[] SubjectKeyId(X509Certificate2 certificate) =>
        Extension<X509SubjectKeyIdentifierExtension>(certificate).SubjectKeyIdentifierBytes.ToArray();

    public static string[] DnsNames(X509Certificate2 certificate) =>
        Extension<X509SubjectAlternativeNameExtension>(certificate).EnumerateDnsNames().ToArray();
}
