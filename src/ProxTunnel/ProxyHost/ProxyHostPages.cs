using System.Globalization;
using System.Net;
using System.Text;
using ProxTunnel.Certificates;
using ProxTunnel.Urls;

namespace ProxTunnel.ProxyHost;

/// <summary>
/// The responses the library itself serves on the proxy host: the trust page and the root downloads. Built once, so
/// serving them allocates nothing; none of them contains the private key.
/// </summary>
internal sealed class ProxyHostPages
{
    private readonly byte[] _landing;
    private readonly byte[] _pem;
    private readonly byte[] _p12;
    private readonly byte[] _cer;
    private readonly byte[] _notFound;

    public ProxyHostPages(ProxyCertificateAuthority authority, string proxyHost)
    {
        var root = authority.RootCertificate;
        _pem = Build("application/x-x509-ca-cert", "proxtunnel-ca.pem", authority.ExportRoot(CertificateExportFormat.Pem));
        _p12 = Build("application/x-pkcs12", "proxtunnel-ca.p12", authority.ExportRoot(CertificateExportFormat.Pkcs12));
        _cer = Build("application/pkix-cert", "proxtunnel-ca.cer", authority.ExportRoot(CertificateExportFormat.Der));
        var html = LandingHtml(proxyHost, authority.RootSha256Fingerprint, root.Subject, root.NotAfter.ToUniversalTime());
        _landing = Build("text/html; charset=utf-8", null, Encoding.UTF8.GetBytes(html));
        _notFound = Build("text/plain; charset=utf-8", null, "Not found: the downloads are /download/pem, /download/p12 and /download/cer.\n"u8.ToArray(), "404 Not Found");
    }

    /// <summary>
    /// The full response for a path the library answers, or null when the path belongs to the app. Matched on the
    /// canonical path (dot segments resolved, <c>\</c> as <c>/</c>, percent-encoded unreserved characters decoded,
    /// ASCII case ignored as ASP.NET Core routing does), so <c>/%64ownload/pem</c> and <c>/x/../download/pem</c> are
    /// the download and never reach the app.
    /// </summary>
    public byte[]? Find(ReadOnlySpan<byte> pathAndQuery)
    {
        var query = pathAndQuery.IndexOfAny((byte)'?', (byte)'#');
        var raw = query < 0 ? pathAndQuery : pathAndQuery[..query];
        // Canonical paths are never longer than the raw path plus its leading "/".
        var buffer = raw.Length < 512 ? stackalloc byte[raw.Length + 1] : new byte[raw.Length + 1];
        return Match(buffer[..UrlPath.WriteForMatching(raw, buffer)]);
    }

    private byte[]? Match(ReadOnlySpan<byte> path)
    {
        if (path.SequenceEqual("/"u8))
        {
            return _landing;
        }

        if (Ascii.EqualsIgnoreCase(path, "/download/pem"u8))
        {
            return _pem;
        }

        if (Ascii.EqualsIgnoreCase(path, "/download/p12"u8))
        {
            return _p12;
        }

        if (Ascii.EqualsIgnoreCase(path, "/download/cer"u8))
        {
            return _cer;
        }

        // Everything under /download/ is the library's: an unknown name never reaches the app.
        return path.Length >= 9 && Ascii.EqualsIgnoreCase(path[..9], "/download"u8) && (path.Length == 9 || path[9] == (byte)'/')
            ? _notFound
            : null;
    }

    /// <summary>Length of the head of a response built here, so HEAD requests can get the head alone.</summary>
    public static int HeadLength(byte[] response) => response.AsSpan().IndexOf("\r\n\r\n"u8) + 4;

    private static byte[] Build(string contentType, string? fileName, byte[] body, string status = "200 OK")
    {
        var head = new StringBuilder(256);
        head.Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {status}\r\n");
        head.Append(CultureInfo.InvariantCulture, $"Content-Type: {contentType}\r\n");
        if (fileName is not null)
        {
            head.Append(CultureInfo.InvariantCulture, $"Content-Disposition: attachment; filename=\"{fileName}\"\r\n");
        }

        head.Append("Cache-Control: no-store\r\nAccess-Control-Allow-Origin: *\r\n");
        head.Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\n\r\n");
        var headBytes = Encoding.ASCII.GetBytes(head.ToString());
        return [.. headBytes, .. body];
    }

    private static string LandingHtml(string proxyHost, string fingerprint, string subject, DateTime notAfter)
    {
        var host = WebUtility.HtmlEncode(proxyHost);
        var check = "https://" + proxyHost + "/download/pem";
        return $$"""
            <!DOCTYPE html>
            <html lang="en">
            <head><meta charset="utf-8"><title>ProxTunnel: trust the root certificate</title>
            <style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;line-height:1.5}code{background:#eee;padding:0 .2em}#trust{font-weight:bold}</style></head>
            <body>
            <h1>ProxTunnel</h1>
            <p>This proxy answers HTTPS for every site with certificates issued by its own root certificate authority.
            Your browser shows them as valid only once it trusts that root.</p>
            <p id="trust" data-state="checking">Checking whether this browser trusts the root…</p>
            <h2>Root certificate</h2>
            <ul>
            <li>Subject: <code>{{WebUtility.HtmlEncode(subject)}}</code></li>
            <li>SHA-256 fingerprint: <code id="fingerprint">{{fingerprint}}</code></li>
            <li>Valid until: {{notAfter.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)}}</li>
            </ul>
            <h2>Download</h2>
            <ul>
            <li><a href="/download/pem">/download/pem</a> — PEM (Linux, Firefox, curl <code>--cacert</code>, Python)</li>
            <li><a href="/download/cer">/download/cer</a> — DER (Windows, macOS, Android)</li>
            <li><a href="/download/p12">/download/p12</a> — PKCS#12, certificate only, empty password (iOS, some Windows tools)</li>
            </ul>
            <p>None of these files holds the private key: it never leaves the machine that runs the proxy.</p>
            <h2>How to trust it</h2>
            <ul>
            <li><b>Chromium / Chrome on Linux:</b> <code>certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n proxtunnel -i proxtunnel-ca.pem</code>, or Settings → Privacy and security → Security → Manage certificates → Authorities → Import.</li>
            <li><b>Firefox:</b> Settings → Privacy &amp; Security → Certificates → View Certificates → Authorities → Import, tick "Trust this CA to identify websites".</li>
            <li><b>Debian / Ubuntu:</b> <code>sudo cp proxtunnel-ca.pem /usr/local/share/ca-certificates/proxtunnel-ca.crt &amp;&amp; sudo update-ca-certificates</code></li>
            <li><b>macOS:</b> <code>sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain proxtunnel-ca.pem</code></li>
            <li><b>Windows:</b> <code>certutil -addstore -f ROOT proxtunnel-ca.cer</code> (administrator prompt), or double-click the .cer file → Install → Local Machine → Trusted Root Certification Authorities.</li>
            </ul>
            <p>This page is served by the proxy itself at <code>http://{{host}}/</code> and <code>https://{{host}}/</code>.</p>
            <script>
            (function () {
              var el = document.getElementById('trust');
              fetch('{{check}}', { mode: 'no-cors', cache: 'no-store' })
                .then(function () { el.textContent = 'This browser trusts the ProxTunnel root: HTTPS through this proxy works.'; el.dataset.state = 'trusted'; })
                .catch(function () { el.textContent = 'This browser does not trust the ProxTunnel root yet: download it below and import it.'; el.dataset.state = 'untrusted'; });
            })();
            </script>
            </body>
            </html>
            """;
    }
}
