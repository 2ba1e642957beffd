namespace ProxTunnel.Rewriting;

internal static class RejectReasonExtensions
{
    public static int ToStatusCode(this RejectReason reason) => reason switch
    {
        RejectReason.RequestLineTooLong => 414,
        RejectReason.HeadersTooLarge or RejectReason.TooManyHeaders => 431,
        RejectReason.UnsupportedHttpVersion => 505,
        RejectReason.RequestHeadersTimeout => 408,
        RejectReason.ProxyAuthenticationRequired => 407,
        RejectReason.TooManyTunnels => 503,
        RejectReason.ResolverFailed => 500,
        _ => 400,
    };
}
