namespace ProxTunnel.Gateway;

/// <summary>What the command line asked the gateway to do.</summary>
internal sealed class GatewaySettings
{
    /// <summary>Default listener when neither <c>--listen</c> nor <c>--listen-tls</c> is given.</summary>
    public const string DefaultListen = "127.0.0.1:8080";

    /// <summary>Default prefix put before every rewritten URL.</summary>
    public const string DefaultPrefix = "/prefix/";

    /// <summary>Default realm of <c>--auth</c> given without a value.</summary>
    public const string DefaultRealm = ProxTunnel.Resolvers.ProxyAuthPrefixResolver.DefaultRealm;

    public required IReadOnlyList<ListenEndpoint> Listen { get; init; }

    public required IReadOnlyList<ListenEndpoint> ListenTls { get; init; }

    public required string Prefix { get; init; }

    public required string ProxyHost { get; init; }

    public required string CaPath { get; init; }

    /// <summary>Realm for <c>ProxyAuthPrefixResolver</c>, or null when <c>--auth</c> was not given.</summary>
    public string? AuthRealm { get; init; }

    /// <summary>htpasswd file checked by <c>--auth</c>, or null when <c>--auth</c> checks no password.</summary>
    public string? AuthUsers { get; init; }

    /// <summary>Extra unprefixed host names (<c>--proxy-alias</c>).</summary>
    public IReadOnlyList<string> ProxyAliases { get; init; } = [];

    /// <summary>HAR file to write, or null.</summary>
    public string? HarPath { get; init; }

    /// <summary>Backend to forward to, or null for the built-in inspector.</summary>
    public Uri? Upstream { get; init; }

    public required Microsoft.Extensions.Logging.LogLevel LogLevel { get; init; }
}
