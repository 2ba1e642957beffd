namespace ProxTunnel.Rewriting;

/// <summary>
/// The route of one head. <see cref="Host"/> and <see cref="PathAndQuery"/> are ranges of the head's bytes; an empty
/// <see cref="Host"/> means the tunnel's host (origin-form inside a tunnel). <see cref="HostIsCanonical"/>: the host's
/// bytes are in canonical form already (<see cref="Urls.HostName.IsCanonical"/>).
/// </summary>
internal readonly record struct HeadRoute(RouteKind Kind, bool Https = false, int Port = 0, Range Host = default, Range PathAndQuery = default,
    RejectReason Reason = RejectReason.None, byte[]? Page = null, bool HostIsCanonical = false)
{
    public static HeadRoute Refused(RejectReason reason) => new(RouteKind.Refuse, Reason: reason);
}
