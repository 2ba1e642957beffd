namespace ProxTunnel.Gateway;

/// <summary>Source-generated log messages of the gateway.</summary>
internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Forwarding every rewritten request to {Destination}")]
    public static partial void ForwardingTo(ILogger logger, string destination);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Upstream failed for {Url}: {Error}: {Reason}")]
    public static partial void UpstreamFailed(ILogger logger, string url, Yarp.ReverseProxy.Forwarder.ForwarderError error, string reason);

    // The access log: one line per request the app answered. Arguments are what the request already holds, so a line
    // costs no formatting unless Information is enabled.
    [LoggerMessage(EventId = 10, Level = LogLevel.Information,
        Message = "{Method} {Url} {Status} {Bytes} B {Milliseconds:0.0} ms client {Client}:{ClientPort} tunnel {TunnelHost}:{TunnelPort}")]
    public static partial void TunneledRequest(ILogger logger, string method, string url, int status, long bytes, double milliseconds,
        System.Net.IPAddress? client, int clientPort, string tunnelHost, int tunnelPort);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information,
        Message = "{Method} {Url} {Status} {Bytes} B {Milliseconds:0.0} ms client {Client}:{ClientPort} no tunnel")]
    public static partial void Request(ILogger logger, string method, string url, int status, long bytes, double milliseconds,
        System.Net.IPAddress? client, int clientPort);

    [LoggerMessage(EventId = 13, Level = LogLevel.Debug, Message = "HAR file {Path}: {Count} entries on disk")]
    public static partial void HarFlushed(ILogger logger, string path, long count);

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning, Message = "HAR file {Path}: {Reason}; no further entries are written")]
    public static partial void HarFailed(ILogger logger, string path, string reason);
}
