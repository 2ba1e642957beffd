namespace ProxTunnel.Resolvers;

/// <summary>
/// Takes the prefix from Basic proxy credentials: user <c>alice</c> gets <c>/alice/http://…</c>. Without credentials the
/// client gets <c>407</c>. Inside a tunnel the CONNECT request's credentials count for every request. It checks no
/// password (any password is accepted); <see cref="HtpasswdPrefixResolver"/> checks them against an htpasswd file.
/// </summary>
public sealed class ProxyAuthPrefixResolver : IProxyPrefixResolver
{
    /// <summary>The realm used when none is given.</summary>
    public const string DefaultRealm = "proxtunnel";

    /// <summary>Creates a resolver that challenges with <paramref name="realm"/>.</summary>
    public ProxyAuthPrefixResolver(string realm = DefaultRealm)
    {
        ArgumentException.ThrowIfNullOrEmpty(realm);
        if (realm.Contains('"', StringComparison.Ordinal) || realm.Contains('\\', StringComparison.Ordinal) || realm.Any(char.IsControl))
        {
            throw new ArgumentException("The realm may not contain quotes, backslashes or control characters.", nameof(realm));
        }

        Realm = realm;
    }

    /// <summary>The realm named in <c>Proxy-Authenticate</c>.</summary>
    public string Realm { get; }

    /// <inheritdoc />
    public ValueTask<ProxyPrefixResult> ResolveAsync(ProxyRequestContext request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var user = TryGetUserName(request.ProxyAuthorization);
        return ValueTask.FromResult(user is null ? ProxyPrefixResult.Challenge(Realm) : ProxyPrefixResult.WithPrefix("/" + user + "/"));
    }

    /// <summary>The user name of a <c>Basic</c> credential, or null when absent, malformed or unusable as a path segment.</summary>
    internal static string? TryGetUserName(string? authorization)
        => BasicCredentials.TryDecode(authorization, out var user, out _) ? user : null;
}
