namespace ProxTunnel.Resolvers;

/// <summary>Chooses the target the app sees for each proxied request. Called on the connection's hot path: complete
/// synchronously when the answer is at hand, and go asynchronous only for real look-ups (credential stores).</summary>
public interface IProxyPrefixResolver
{
    /// <summary>Returns the new target, a prefix, or a demand for credentials. <paramref name="request"/> is valid until the
    /// returned task completes, and no longer.</summary>
    ValueTask<ProxyPrefixResult> ResolveAsync(ProxyRequestContext request, CancellationToken cancellationToken);
}
