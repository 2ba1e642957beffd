using System.Globalization;
using System.Text;
using ProxTunnel.Certificates;

namespace ProxTunnel.Gateway;

/// <summary>The lines the gateway prints on stdout once it listens: where, which CA, and curl lines to paste.</summary>
internal static class StartupBanner
{
    public static async Task WriteAsync(TextWriter output, GatewaySettings settings, ProxyCertificateAuthority authority,
        IReadOnlyList<string> addresses, TimeProvider time, CancellationToken cancellationToken)
    {
        var text = Format(settings, authority, addresses, time.GetUtcNow());
        await output.WriteAsync(text.AsMemory(), cancellationToken).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    internal static string Format(GatewaySettings settings, ProxyCertificateAuthority authority, IReadOnlyList<string> addresses, DateTimeOffset now)
    {
        var b = new StringBuilder();
        b.AppendLine("ProxTunnel gateway");
        foreach (var address in addresses)
        {
            var kind = address.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ? "TLS proxy listener" : "HTTP proxy";
            b.AppendLine(CultureInfo.InvariantCulture, $"listening on {address} ({kind})");
        }

        var expires = authority.RootCertificate.NotAfter.ToUniversalTime();
        b.AppendLine(CultureInfo.InvariantCulture, $"prefix: {(settings.AuthRealm is null ? settings.Prefix : $"/<proxy user>/ (--auth, realm \"{settings.AuthRealm}\")")}");
        if (settings.AuthRealm is not null)
        {
            b.AppendLine(settings.AuthUsers is null
                ? "warning: --auth checks NO password (any password is accepted); add --auth-users FILE (htpasswd -B) to check them."
                : $"passwords: checked against {settings.AuthUsers}");
        }

        foreach (var alias in settings.ProxyAliases)
        {
            b.AppendLine(CultureInfo.InvariantCulture, $"alias: {alias} (reaches the app unprefixed)");
        }

        if (settings.HarPath is not null)
        {
            b.AppendLine(CultureInfo.InvariantCulture, $"HAR: {settings.HarPath}");
        }
        b.AppendLine(settings.Upstream is null ? "app: built-in inspector" : $"app: forwarding to {settings.Upstream}");
        b.AppendLine(CultureInfo.InvariantCulture, $"CA: {authority.RootCertificatePath}{(authority.RootWasCreated ? " (created now)" : "")}");
        b.AppendLine(CultureInfo.InvariantCulture, $"root SHA-256: {authority.RootSha256Fingerprint}");
        b.AppendLine(CultureInfo.InvariantCulture, $"root expires: {expires.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture)}");
        var left = expires - now.UtcDateTime;
        if (left < ProxyCertificateAuthority.RootExpiryWarning)
        {
            b.AppendLine(CultureInfo.InvariantCulture,
                $"warning: the root CA expires in {Math.Max(0, (int)left.TotalDays)} days; create a new one with `proxtunnel ca init --force --ca {settings.CaPath}` and trust it again.");
        }

        var proxy = addresses.Select(ClientAddress).FirstOrDefault(a => a.StartsWith("http://", StringComparison.Ordinal))
            ?? addresses.Select(ClientAddress).FirstOrDefault();
        if (proxy is not null)
        {
            var user = settings.AuthRealm is null ? "" : " --proxy-user alice:secret";
            var httpsProxy = proxy.StartsWith("https:", StringComparison.Ordinal);
            var proxyTrust = httpsProxy ? " --proxy-cacert proxtunnel-ca.pem" : "";
            var firstTrust = httpsProxy ? " --proxy-insecure" : "";
            b.AppendLine("try it:");
            b.AppendLine(CultureInfo.InvariantCulture, $"  curl --proxy {proxy}{user} http://example.com/");
            b.AppendLine(CultureInfo.InvariantCulture, $"  curl -s --proxy {proxy}{user}{firstTrust} http://{settings.ProxyHost}/download/pem -o proxtunnel-ca.pem");
            b.AppendLine(CultureInfo.InvariantCulture, $"  curl --proxy {proxy}{user}{proxyTrust} --cacert proxtunnel-ca.pem https://example.com/");
            b.AppendLine(CultureInfo.InvariantCulture, $"trust page (through the proxy): http://{settings.ProxyHost}/");
        }

        b.AppendLine("press Ctrl+C to stop");
        return b.ToString();
    }

    /// <summary>An address a client on this machine can use: wildcard binds become loopback.</summary>
    private static string ClientAddress(string address) => address
        .Replace("://0.0.0.0:", "://127.0.0.1:", StringComparison.Ordinal)
        .Replace("://[::]:", "://[::1]:", StringComparison.Ordinal)
        .Replace("://localhost:", "://127.0.0.1:", StringComparison.Ordinal);
}
