namespace ProxTunnel.Resolvers;

/// <summary>Chooses the target the app sees for each proxied request. Called on the connection's hot path: keep it fast.</summary>
public interface IProxyPrefixResolver
{
    /// <summary>Returns the new target, a prefix, or a demand for credentials. <paramref name="request"/> is only valid during the call.</summary>
    ProxyPrefixResult Resolve(ProxyRequestContext request);
}
