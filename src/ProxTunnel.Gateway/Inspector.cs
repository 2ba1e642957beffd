using System.Buffers;
using System.Globalization;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;

namespace ProxTunnel.Gateway;

/// <summary>
/// The built-in app: answers every request with one line of JSON describing what arrived, or <c>size=N</c> bytes, and
/// echoes WebSocket messages prefixed with the request target.
/// </summary>
internal static class Inspector
{
    private const int BufferSize = 64 * 1024;

    // Relaxed: the target's '&' and '+' stay readable; the output is JSON for programs, never embedded in HTML.
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    // Shared, never written after start-up: the payload of size=N responses.
    private static readonly byte[] Filler = CreateFiller();

    public static async Task HandleAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";
        if (context.WebSockets.IsWebSocketRequest)
        {
            await EchoWebSocketAsync(context, target, cancellationToken).ConfigureAwait(false);
            return;
        }

        var (bodyLength, bodySha256) = await HashBodyAsync(context.Request.Body, cancellationToken).ConfigureAwait(false);
        var query = context.Request.Query;
        var chunked = string.Equals(query["chunked"].ToString(), "true", StringComparison.OrdinalIgnoreCase);
        if (int.TryParse(query["status"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var status) && status is >= 200 and <= 599)
        {
            context.Response.StatusCode = status;
        }

        if (context.Response.StatusCode is 204 or 304)
        {
            return;
        }

        // HEAD gets the headers GET would get (Content-Length included) and no body.
        var writeBody = !HttpMethods.IsHead(context.Request.Method);
        if (long.TryParse(query["size"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var size))
        {
            await WriteSizedAsync(context.Response, size, chunked, writeBody, cancellationToken).ConfigureAwait(false);
            return;
        }

        var json = Describe(context, target, bodyLength, bodySha256);
        context.Response.ContentType = "application/json";
        if (!chunked)
        {
            context.Response.ContentLength = json.Length;
        }

        if (writeBody)
        {
            await context.Response.Body.WriteAsync(json, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<(long Length, string Sha256)> HashBodyAsync(Stream body, CancellationToken cancellationToken)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            long length = 0;
            int read;
            while ((read = await body.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                sha.AppendData(buffer, 0, read);
                length += read;
            }

            return (length, Convert.ToHexStringLower(sha.GetHashAndReset()));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task WriteSizedAsync(HttpResponse response, long size, bool chunked, bool writeBody, CancellationToken cancellationToken)
    {
        response.ContentType = "application/octet-stream";
        if (!chunked)
        {
            response.ContentLength = size;
        }

        var left = writeBody ? size : 0;
        while (left > 0)
        {
            var count = (int)Math.Min(left, Filler.Length);
            await response.Body.WriteAsync(Filler.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
            left -= count;
        }
    }

    private static byte[] Describe(HttpContext context, string target, long bodyLength, string bodySha256)
    {
        var request = context.Request;
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("method", request.Method);
            json.WriteString("target", target);
            json.WriteString("host", request.Host.Value);
            json.WriteBoolean("isHttps", request.IsHttps);
            json.WriteStartObject("headers");
            foreach (var header in request.Headers)
            {
                json.WriteString(header.Key, string.Join(", ", header.Value.Select(v => v ?? "")));
            }

            json.WriteEndObject();
            json.WriteNumber("bodyLength", bodyLength);
            json.WriteString("bodySha256", bodySha256);
            var tunnel = context.Features.Get<IProxyTunnelFeature>();
            if (tunnel is null)
            {
                json.WriteNull("tunnel");
            }
            else
            {
                json.WriteStartObject("tunnel");
                json.WriteString("host", tunnel.ConnectHost);
                json.WriteNumber("port", tunnel.ConnectPort);
                json.WriteString("sni", tunnel.ServerName);
                json.WriteBoolean("tls", tunnel.IsTlsTerminated);
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    private static async Task EchoWebSocketAsync(HttpContext context, string target, CancellationToken cancellationToken)
    {
        using var socket = await context.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
        var prefix = Encoding.UTF8.GetBytes(target + " ");
        var message = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                message.ResetWrittenCount();
                message.Write(prefix);
                ValueWebSocketReceiveResult received;
                do
                {
                    received = await socket.ReceiveAsync(message.GetMemory(4096), cancellationToken).ConfigureAwait(false);
                    message.Advance(received.Count);
                }
                while (!received.EndOfMessage && received.MessageType != WebSocketMessageType.Close);

                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken).ConfigureAwait(false);
                    return;
                }

                var reply = received.MessageType == WebSocketMessageType.Text ? message.WrittenMemory : message.WrittenMemory[prefix.Length..];
                await socket.SendAsync(reply, received.MessageType, endOfMessage: true, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (WebSocketException)
        {
            // The client went away without a close handshake; nothing to answer.
        }
    }

    private static byte[] CreateFiller()
    {
        var filler = new byte[BufferSize];
        for (var i = 0; i < filler.Length; i++)
        {
            filler[i] = (byte)('a' + (i % 26));
        }

        return filler;
    }
}
