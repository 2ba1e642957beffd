namespace ProxTunnel.Connection;

internal sealed class ProxyTunnelFeature(string connectHost, int connectPort, string? serverName, bool isTlsTerminated, string? proxyAuthorization)
    : IProxyTunnelFeature
{
    public string ConnectHost { get; } = connectHost;

    public int ConnectPort { get; } = connectPort;

    public string? ServerName { get; } = serverName;

    public bool IsTlsTerminated { get; } = isTlsTerminated;

    public string? ProxyAuthorization { get; } = proxyAuthorization;
}
