using Microsoft.Extensions.Logging;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Diagnostics;

internal static partial class ProxyTunnelLog
{
    [LoggerMessage(1, LogLevel.Debug, "Connection {ConnectionId}: tunnel to {Host}:{Port} opened (TLS: {Tls}, SNI: {ServerName}).")]
    public static partial void TunnelOpened(ILogger logger, string connectionId, string host, int port, bool tls, string? serverName);

    [LoggerMessage(2, LogLevel.Information, "Connection {ConnectionId}: request refused with {StatusCode} ({Reason}).")]
    public static partial void RequestRejected(ILogger logger, string connectionId, int statusCode, RejectReason reason);

    [LoggerMessage(3, LogLevel.Debug, "Connection {ConnectionId}: TLS handshake failed.")]
    public static partial void HandshakeFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(4, LogLevel.Debug, "Connection {ConnectionId}: TLS handshake timed out.")]
    public static partial void HandshakeTimedOut(ILogger logger, string connectionId);

    [LoggerMessage(5, LogLevel.Information, "Connection {ConnectionId}: request body refused mid-stream ({Reason}); answered 400, the connection ends.")]
    public static partial void BodyRejected(ILogger logger, string connectionId, RejectReason reason);

    [LoggerMessage(6, LogLevel.Warning, "Connection {ConnectionId}: prefix resolver failed.")]
    public static partial void ResolverFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(7, LogLevel.Debug, "Connection {ConnectionId}: client went away ({Message}).")]
    public static partial void ClientGone(ILogger logger, string connectionId, string message);

    [LoggerMessage(8, LogLevel.Debug, "Connection {ConnectionId}: TLS to the proxy itself (SNI: {ServerName}).")]
    public static partial void ProxyTlsAccepted(ILogger logger, string connectionId, string? serverName);

    [LoggerMessage(9, LogLevel.Warning, "Connection {ConnectionId}: tunnel limit of {Limit} reached; CONNECT refused.")]
    public static partial void TunnelLimitReached(ILogger logger, string connectionId, int limit);

    [LoggerMessage(10, LogLevel.Debug, "Connection {ConnectionId}: served {Path} on the proxy host.")]
    public static partial void ServedProxyPage(ILogger logger, string connectionId, string path);

    [LoggerMessage(11, LogLevel.Debug, "Connection {ConnectionId}: HTTP/1.0 keep-alive response sent with a length; the tunnel stays open.")]
    public static partial void Http10ResponseGivenLength(ILogger logger, string connectionId);
}
