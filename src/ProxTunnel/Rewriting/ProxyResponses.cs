using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Microsoft.Extensions.Logging;
using ProxTunnel.Diagnostics;

namespace ProxTunnel.Rewriting;

/// <summary>The few responses the proxy layer writes itself: errors, 407 challenges and CONNECT's 200.</summary>
internal static class ProxyResponses
{
    public static readonly byte[] ConnectEstablished11 = "HTTP/1.1 200 Connection Established\r\n\r\n"u8.ToArray();
    public static readonly byte[] ConnectEstablished10 = "HTTP/1.0 200 Connection Established\r\n\r\n"u8.ToArray();

    public static byte[] Error(RejectReason reason, string? realm = null)
    {
        var status = reason.ToStatusCode();
        var body = $"{status} {ReasonPhrase(status)}: {reason}\n";
        var builder = new StringBuilder(160);
        builder.Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {status} {ReasonPhrase(status)}\r\n");
        if (realm is not null)
        {
            builder.Append(CultureInfo.InvariantCulture, $"Proxy-Authenticate: Basic realm=\"{realm}\"\r\n");
        }

        builder.Append(CultureInfo.InvariantCulture, $"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}");
        return Encoding.ASCII.GetBytes(builder.ToString());
    }

    /// <summary>Counts, logs and answers a refusal: the one way the proxy layer says no to a client.</summary>
    public static async ValueTask RefuseAsync(PipeWriter output, RejectReason reason, string? realm, ILogger logger, ProxyTunnelMetrics metrics, string connectionId)
    {
        metrics.BadRequests.Add(1);
        ProxyTunnelLog.RequestRejected(logger, connectionId, reason.ToStatusCode(), reason);
        try
        {
            await output.WriteAsync(Error(reason, realm));
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            ProxyTunnelLog.ClientGone(logger, connectionId, ex.Message);
        }
    }

    public static string ReasonPhrase(int status) => status switch
    {
        400 => "Bad Request",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    };
}
