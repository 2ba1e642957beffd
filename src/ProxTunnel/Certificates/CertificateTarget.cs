using System.Net;

namespace ProxTunnel.Certificates;

/// <summary>What one host certificate is issued for: its cache key and subject alternative names.</summary>
/// <param name="Key">Normalized name, wildcard name (<c>*.parent</c>) or IP address text; the cache key.</param>
/// <param name="DnsNames">dNSName SAN entries (empty for an IP address).</param>
/// <param name="Address">iPAddress SAN entry, or null for DNS names.</param>
internal sealed record CertificateTarget(string Key, IReadOnlyList<string> DnsNames, IPAddress? Address)
{
    /// <summary>The subject common name: the key itself, when it fits the 64-character limit of X.520.</summary>
    internal string? CommonName => Key.Length <= 64 ? Key : null;
}
