using ProxTunnel.Urls;

namespace ProxTunnel.Rewriting;

/// <summary>Everything the head writer needs besides the head: the new target's parts and where Host comes from.</summary>
internal readonly ref struct HeadPlan
{
    public HeadPlan(ReadOnlySpan<byte> head, RequestHead parsed, TargetShape shape, ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> host,
        ReadOnlySpan<byte> pathAndQuery, bool https, int port, TunnelTarget? tunnel, bool? hostIsCanonical = null)
    {
        Shape = shape;
        Prefix = prefix;
        Host = host;
        PathAndQuery = pathAndQuery;
        Https = https;
        Port = port;
        Tunnel = tunnel;

        // Looked at once here, so the writers copy what is canonical already (nearly every request) instead of each
        // canonicalizing it again.
        HostIsCanonical = !host.IsEmpty && (hostIsCanonical ?? HostName.IsCanonical(host));
        PathIsCanonical = shape is TargetShape.Prefixed or TargetShape.ProxyHostPath && UrlPath.IsCanonical(pathAndQuery);
        HostSource = HeadWriter.ChooseHostSource(head, parsed, shape, host, https, port, HostIsCanonical);
    }

    public TargetShape Shape { get; }

    /// <summary>The prefix, or the whole target for <see cref="TargetShape.Resolved"/>.</summary>
    public ReadOnlySpan<byte> Prefix { get; }

    /// <summary>The URL's host as sent; empty inside a tunnel (the tunnel's origin is used).</summary>
    public ReadOnlySpan<byte> Host { get; }

    public ReadOnlySpan<byte> PathAndQuery { get; }

    /// <summary><see cref="Host"/> is in canonical form already (<see cref="HostName.IsCanonical"/>).</summary>
    public bool HostIsCanonical { get; }

    /// <summary><see cref="PathAndQuery"/> is in canonical form already (<see cref="UrlPath.IsCanonical"/>).</summary>
    public bool PathIsCanonical { get; }

    public bool Https { get; }

    public int Port { get; }

    public TunnelTarget? Tunnel { get; }

    public HostSource HostSource { get; }
}
