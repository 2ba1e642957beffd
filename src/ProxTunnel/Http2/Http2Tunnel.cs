using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using ProxTunnel.Connection;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Http2;

/// <summary>Runs Kestrel's HTTP/2 over a TLS tunnel that negotiated <c>h2</c>, through the frame rewriter.</summary>
internal static class Http2Tunnel
{
    private static readonly TimeSpan GoAwayWriteTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Returns true when the connection ended with the rewriter's GOAWAY (the caller then drains and closes).
    /// <c>runKestrelPass</c> runs Kestrel's connection handler once over the transport it is given.</summary>
    public static async Task<bool> RunAsync(ConnectionContext context, Func<IDuplexPipe, Task> runKestrelPass, Http2Settings http2,
        RewriteSettings settings, PipeReader input, PipeWriter output, TunnelTarget target)
    {
        Http2Log.Negotiated(settings.Logger, context.ConnectionId);
        using var reader = new Http2RewritingReader(http2, settings, context.ConnectionId, input, target);
        await runKestrelPass(new DuplexPipe(reader, output));
        if (reader.GoAwayError is not { } error)
        {
            return false;
        }

        // Kestrel has finished writing (its input ended before the bad block), so this frame cannot interleave with its own.
        // A client that stopped reading does not get to hold the connection open with it.
        using var timeout = new CancellationTokenSource(GoAwayWriteTimeout);
        try
        {
            await output.WriteAsync(Http2Frame.GoAway(reader.LastStreamId, error), timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
        }

        return true;
    }
}
