namespace ProxTunnel.Resolvers;

/// <summary>Puts the same prefix before every absolute URL: <c>/prefix/https://example.com/a</c>.</summary>
public sealed class FixedPrefixResolver : IProxyPrefixResolver
{
    /// <summary>Creates a resolver for <paramref name="prefix"/>; a missing leading slash is added.</summary>
    public FixedPrefixResolver(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Length == 0 || prefix[0] != '/')
        {
            prefix = "/" + prefix;
        }

        foreach (var c in prefix)
        {
            if (c <= ' ' || c >= 0x7F || c is '#' or '?')
            {
                throw new ArgumentException($"The prefix '{prefix}' must be printable ASCII without spaces, '?' or '#'.", nameof(prefix));
            }
        }

        Prefix = prefix;
    }

    /// <summary>The prefix, always starting with <c>/</c>.</summary>
    public string Prefix { get; }

    /// <inheritdoc />
    public ValueTask<ProxyPrefixResult> ResolveAsync(ProxyRequestContext request, CancellationToken cancellationToken)
        => ValueTask.FromResult(ProxyPrefixResult.WithPrefix(Prefix));
}
