namespace ProxTunnel.Gateway;

/// <summary>Source-generated log messages of the gateway.</summary>
internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Forwarding every rewritten request to {Destination}")]
    public static partial void ForwardingTo(ILogger logger, string destination);
}
