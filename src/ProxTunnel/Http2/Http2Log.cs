using Microsoft.Extensions.Logging;

namespace ProxTunnel.Http2;

internal static partial class Http2Log
{
    [LoggerMessage(101, LogLevel.Debug, "Connection {ConnectionId}: HTTP/2 negotiated inside the tunnel.")]
    public static partial void Negotiated(ILogger logger, string connectionId);

    [LoggerMessage(102, LogLevel.Information, "Connection {ConnectionId}: HTTP/2 connection ended with GOAWAY {Error} ({Reason}).")]
    public static partial void GoingAway(ILogger logger, string connectionId, Http2ErrorCode error, string reason);
}
