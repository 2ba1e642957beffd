namespace ProxTunnel.Gateway;

/// <summary>Source-generated log messages of the gateway.</summary>
internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Forwarding every rewritten request to {Destination}")]
    public static partial void ForwardingTo(ILogger logger, string destination);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Upstream failed for {Url}: {Error}: {Reason}")]
    public static partial void UpstreamFailed(ILogger logger, string url, Yarp.ReverseProxy.Forwarder.ForwarderError error, string reason);

    // Events 10 (through a tunnel) and 11 (without) are the access-log lines: AccessLog writes them itself, in the
    // console logger's format, so that a line costs no formatting on the request path.

    [LoggerMessage(EventId = 14, Level = LogLevel.Warning, Message = "{Count} access-log lines dropped: stderr did not keep up")]
    public static partial void AccessLinesDropped(ILogger logger, long count);

    [LoggerMessage(EventId = 13, Level = LogLevel.Debug, Message = "HAR file {Path}: {Count} entries on disk")]
    public static partial void HarFlushed(ILogger logger, string path, long count);

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning, Message = "HAR file {Path}: {Reason}; no further entries are written")]
    public static partial void HarFailed(ILogger logger, string path, string reason);
}
