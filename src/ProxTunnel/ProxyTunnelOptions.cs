using System.Security.Authentication;
using ProxTunnel.Certificates;
using ProxTunnel.Resolvers;

namespace ProxTunnel;

/// <summary>Settings of <c>ListenOptions.UseProxyTunnel</c>; bound from the configuration section <c>ProxyTunnel</c>.</summary>
public sealed class ProxyTunnelOptions
{
    /// <summary>The configuration section <c>AddProxyTunnel</c> binds.</summary>
    public const string SectionName = "ProxyTunnel";

    /// <summary>Default host name under which the library serves its own pages and root downloads.</summary>
    public const string DefaultProxyHost = "proxtunnel";

    /// <summary>Prefix put before every rewritten absolute URL; shorthand for <see cref="FixedPrefixResolver"/>.
    /// Ignored when <see cref="PrefixResolver"/> is set.</summary>
    public string Prefix { get; set; } = "/";

    /// <summary>Decides the rewritten target of each proxied request; overrides <see cref="Prefix"/>.</summary>
    public IProxyPrefixResolver? PrefixResolver { get; set; }

    /// <summary>The host whose <c>/</c> and <c>/download/*</c> the library answers itself. Any form a browser accepts;
    /// kept in canonical form at start-up (lower-case punycode without a trailing dot, IPv4 dotted decimal, IPv6 in
    /// brackets).</summary>
    public string ProxyHost { get; set; } = DefaultProxyHost;

    /// <summary>Further host names whose requests reach the app unprefixed, in origin-form, with their Host header.</summary>
    public IList<string> ProxyHosts { get; } = new List<string>();

    /// <summary>Root CA settings, used when <see cref="CertificateAuthorityInstance"/> is not set.</summary>
    public CertificateAuthorityOptions CertificateAuthority { get; set; } = new();

    /// <summary>A CA shared between listeners; when set, <see cref="CertificateAuthority"/> is ignored.</summary>
    public ProxyCertificateAuthority? CertificateAuthorityInstance { get; set; }

    /// <summary>Serve the trust page and the root downloads on <see cref="ProxyHost"/>.</summary>
    public bool EnableCertificateDownload { get; set; } = true;

    /// <summary>Longest a TLS handshake inside a tunnel (or to the proxy itself) may take.</summary>
    public TimeSpan TlsHandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest a client may take to send a whole request head (CONNECT or proxied); guards against Slowloris.</summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>TLS versions offered inside tunnels; <see cref="SslProtocols.None"/> lets the OS choose.</summary>
    public SslProtocols SslProtocols { get; set; } = SslProtocols.None;

    /// <summary>Largest request line, CRLF included (Kestrel's default: 8 KiB). Longer lines get 414.</summary>
    public int MaxRequestLineSize { get; set; } = 8 * 1024;

    /// <summary>Largest total of the header lines of one head (Kestrel's default: 32 KiB). Larger heads get 431.</summary>
    public int MaxRequestHeadersTotalSize { get; set; } = 32 * 1024;

    /// <summary>Most CONNECT tunnels open at once on this listener; 0 means no limit. Further CONNECTs get 503.</summary>
    public int MaxConcurrentTunnels { get; set; }

    internal void CopyFrom(ProxyTunnelOptions other)
    {
        Prefix = other.Prefix;
        PrefixResolver = other.PrefixResolver;
        ProxyHost = other.ProxyHost;
        foreach (var host in other.ProxyHosts)
        {
            ProxyHosts.Add(host);
        }

        CertificateAuthority = other.CertificateAuthority.Clone();
        CertificateAuthorityInstance = other.CertificateAuthorityInstance;
        EnableCertificateDownload = other.EnableCertificateDownload;
        TlsHandshakeTimeout = other.TlsHandshakeTimeout;
        RequestHeadersTimeout = other.RequestHeadersTimeout;
        SslProtocols = other.SslProtocols;
        MaxRequestLineSize = other.MaxRequestLineSize;
        MaxRequestHeadersTotalSize = other.MaxRequestHeadersTotalSize;
        MaxConcurrentTunnels = other.MaxConcurrentTunnels;
    }

    /// <summary>Fails fast at start-up with a message naming the bad option.</summary>
    internal void Validate()
    {
        if (PrefixResolver is null)
        {
            _ = new FixedPrefixResolver(Prefix ?? throw new InvalidOperationException("ProxyTunnel: Prefix may not be null."));
        }

        // These names end up in targets, Host headers and the landing page: each must be a host, and is kept in its
        // canonical form (HostName) so it compares equal to the canonical host of a request.
        ProxyHost = CanonicalProxyHost(ProxyHost);
        for (var i = 0; i < ProxyHosts.Count; i++)
        {
            ProxyHosts[i] = CanonicalProxyHost(ProxyHosts[i]);
        }

        if (TlsHandshakeTimeout <= TimeSpan.Zero || RequestHeadersTimeout <= TimeSpan.Zero)
        {
            throw new InvalidOperationException("ProxyTunnel: TlsHandshakeTimeout and RequestHeadersTimeout must be positive.");
        }

        if (MaxRequestLineSize < 64 || MaxRequestHeadersTotalSize < 64)
        {
            throw new InvalidOperationException("ProxyTunnel: MaxRequestLineSize and MaxRequestHeadersTotalSize must be at least 64 bytes.");
        }

        if (MaxConcurrentTunnels < 0)
        {
            throw new InvalidOperationException("ProxyTunnel: MaxConcurrentTunnels must be 0 (no limit) or positive.");
        }
    }

    private static string CanonicalProxyHost(string host)
        => Urls.HostName.TryParse(host, out var canonical)
            ? canonical.Value
            : throw new InvalidOperationException($"ProxyTunnel: '{host}' is not a host name (ProxyHost, ProxyHosts).");
}
