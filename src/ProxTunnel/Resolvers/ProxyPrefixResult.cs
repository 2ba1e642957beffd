namespace ProxTunnel.Resolvers;

/// <summary>What a resolver decided for one request.</summary>
public readonly struct ProxyPrefixResult
{
    private ProxyPrefixResult(string? prefix, string? target, string? realm)
    {
        Prefix = prefix;
        Target = target;
        ChallengeRealm = realm;
    }

    /// <summary>Prefix to put before the absolute URL, or null.</summary>
    public string? Prefix { get; }

    /// <summary>Complete replacement target (origin-form), or null.</summary>
    public string? Target { get; }

    /// <summary>When not null, the client gets <c>407</c> with <c>Proxy-Authenticate: Basic realm="…"</c>.</summary>
    public string? ChallengeRealm { get; }

    /// <summary>Rewrite to <c>prefix + absolute URL</c>.</summary>
    public static ProxyPrefixResult WithPrefix(string prefix) => new(prefix, null, null);

    /// <summary>Rewrite to exactly <paramref name="target"/>.</summary>
    public static ProxyPrefixResult WithTarget(string target) => new(null, target, null);

    /// <summary>Answer 407 and ask for Basic credentials.</summary>
    public static ProxyPrefixResult Challenge(string realm) => new(null, null, realm);
}
