using System.IO.Pipelines;
using System.Net.Security;

namespace ProxTunnel.Connection;

/// <summary>One layer of a connection: the raw transport, or TLS terminated on top of it.</summary>
internal sealed class TransportLayer(PipeReader input, PipeWriter output, SslStream? sslStream = null, string? serverName = null) : IAsyncDisposable
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;

    /// <summary>Null for the raw transport.</summary>
    public SslStream? SslStream { get; } = sslStream;

    /// <summary>The SNI name the client sent, when it named a plain host.</summary>
    public string? ServerName { get; } = serverName;

    /// <summary>True when ALPN chose HTTP/2 on this TLS layer.</summary>
    public bool IsHttp2 => SslStream?.NegotiatedApplicationProtocol == SslApplicationProtocol.Http2;

    public async ValueTask DisposeAsync()
    {
        if (SslStream is null)
        {
            return;
        }

        try
        {
            await Input.CompleteAsync();

            // Completing flushes what is left; the client may be gone by now.
            await Output.CompleteAsync();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            await SslStream.DisposeAsync();
        }
    }
}
