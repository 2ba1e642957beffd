using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
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
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    // Shared, never written after start-up: the payload of size=N responses.
    private static readonly byte[] Filler = CreateFiller();

    // Most requests have no body: its hash is a constant, so no hash object is made for them.
    private static readonly byte[] EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"u8.ToArray();

    // The query parameters the inspector obeys. A query without any of these words (and without '%', which could
    // spell them) needs no parsing.
    private static readonly SearchValues<string> ParameterNames = SearchValues.Create(["size", "chunked", "status"], StringComparison.OrdinalIgnoreCase);

    private static readonly JsonEncodedText Method = JsonEncodedText.Encode("method");
    private static readonly JsonEncodedText Target = JsonEncodedText.Encode("target");
    private static readonly JsonEncodedText Host = JsonEncodedText.Encode("host");
    private static readonly JsonEncodedText IsHttps = JsonEncodedText.Encode("isHttps");
    private static readonly JsonEncodedText Headers = JsonEncodedText.Encode("headers");
    private static readonly JsonEncodedText BodyLength = JsonEncodedText.Encode("bodyLength");
    private static readonly JsonEncodedText BodySha256 = JsonEncodedText.Encode("bodySha256");
    private static readonly JsonEncodedText Tunnel = JsonEncodedText.Encode("tunnel");
    private static readonly JsonEncodedText Port = JsonEncodedText.Encode("port");
    private static readonly JsonEncodedText Sni = JsonEncodedText.Encode("sni");
    private static readonly JsonEncodedText Tls = JsonEncodedText.Encode("tls");

    // One writer pair per thread, reused: a description is written synchronously, start to end, on one thread.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_json;

    public static Task HandleAsync(HttpContext context)
    {
        if (context.WebSockets.IsWebSocketRequest)
        {
            return EchoWebSocketAsync(context, RawTarget(context), context.RequestAborted);
        }

        // Kestrel knows when a request cannot have a body (no Content-Length, no Transfer-Encoding): answer at once.
        return context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false }
            ? RespondAsync(context, 0, EmptySha256)
            : HashBodyThenRespondAsync(context);
    }

    private static string RawTarget(HttpContext context) => context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";

    private static async Task HashBodyThenRespondAsync(HttpContext context)
    {
        var (length, sha256) = await HashBodyAsync(context.Request.BodyReader, context.RequestAborted).ConfigureAwait(false);
        await RespondAsync(context, length, sha256).ConfigureAwait(false);
    }

    /// <summary>Length and lowercase hex SHA-256 (UTF-8) of the body, read straight from the request pipe.</summary>
    private static async Task<(long Length, byte[] Sha256)> HashBodyAsync(PipeReader body, CancellationToken cancellationToken)
    {
        IncrementalHash? sha = null;
        try
        {
            long length = 0;
            while (true)
            {
                var result = await body.ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    sha ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                    foreach (var segment in buffer)
                    {
                        sha.AppendData(segment.Span);
                    }

                    length += buffer.Length;
                }

                body.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            if (sha is null)
            {
                return (0, EmptySha256);
            }

            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            sha.GetHashAndReset(hash);
            var hex = new byte[SHA256.HashSizeInBytes * 2];
            Convert.TryToHexStringLower(hash, hex, out _);
            return (length, hex);
        }
        finally
        {
            sha?.Dispose();
        }
    }

    private static Task RespondAsync(HttpContext context, long bodyLength, byte[] bodySha256)
    {
        var response = context.Response;
        var (chunked, status, size) = ReadParameters(context.Request);
        if (status is { } code)
        {
            response.StatusCode = code;
        }

        if (response.StatusCode is 204 or 304)
        {
            return Task.CompletedTask;
        }

        // HEAD gets the headers GET would get (Content-Length included) and no body.
        var writeBody = !HttpMethods.IsHead(context.Request.Method);
        if (size is { } bytes)
        {
            return WriteSizedAsync(response, bytes, chunked, writeBody, context.RequestAborted);
        }

        var json = Describe(context, bodyLength, bodySha256);
        response.ContentType = "application/json";
        if (chunked)
        {
            // Written and flushed now, without a length, so Kestrel frames it chunked.
            return writeBody ? response.Body.WriteAsync(json.ToArray(), context.RequestAborted).AsTask() : Task.CompletedTask;
        }

        response.ContentLength = json.Length;
        if (!writeBody)
        {
            return Task.CompletedTask;
        }

        // Copied into the response pipe and flushed now (as a stream write would), so middleware that wraps the body
        // sees it before the request ends; Kestrel's flush completes synchronously unless the socket pushes back.
        var writer = response.BodyWriter;
        writer.Write(json.Span);
        var flush = writer.FlushAsync(context.RequestAborted);
        return flush.IsCompletedSuccessfully ? Task.CompletedTask : flush.AsTask();
    }

    /// <summary><c>chunked=true</c>, <c>status=CODE</c> (200-599) and <c>size=N</c>, as <see cref="HttpRequest.Query"/> reads them.</summary>
    private static (bool Chunked, int? Status, long? Size) ReadParameters(HttpRequest request)
    {
        var raw = request.QueryString.Value;
        if (string.IsNullOrEmpty(raw) || (raw.AsSpan().IndexOfAny(ParameterNames) < 0 && !raw.Contains('%', StringComparison.Ordinal)))
        {
            return (false, null, null);
        }

        var query = request.Query;
        var chunked = string.Equals(query["chunked"].ToString(), "true", StringComparison.OrdinalIgnoreCase);
        int? status = int.TryParse(query["status"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code is >= 200 and <= 599 ? code : null;
        long? size = long.TryParse(query["size"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
        return (chunked, status, size);
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

    /// <summary>The one-line JSON description (with its newline) in this thread's buffer: valid until the next call on
    /// this thread, so the caller copies it out before it awaits.</summary>
    private static ReadOnlyMemory<byte> Describe(HttpContext context, long bodyLength, byte[] bodySha256)
    {
        var request = context.Request;
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var json = t_json ??= new Utf8JsonWriter(buffer, JsonOptions);
        json.Reset(buffer);

        json.WriteStartObject();
        json.WriteString(Method, request.Method);
        json.WriteString(Target, RawTarget(context));
        json.WriteString(Host, request.Host.Value);
        json.WriteBoolean(IsHttps, request.IsHttps);
        json.WriteStartObject(Headers);
        foreach (var header in request.Headers)
        {
            var values = header.Value;
            json.WriteString(header.Key, values.Count == 1 ? values[0] ?? "" : string.Join(", ", values.Select(v => v ?? "")));
        }

        json.WriteEndObject();
        json.WriteNumber(BodyLength, bodyLength);
        json.WriteString(BodySha256, bodySha256);
        if (context.Features.Get<IProxyTunnelFeature>() is { } tunnel)
        {
            json.WriteStartObject(Tunnel);
            json.WriteString(Host, tunnel.ConnectHost);
            json.WriteNumber(Port, tunnel.ConnectPort);
            json.WriteString(Sni, tunnel.ServerName);
            json.WriteBoolean(Tls, tunnel.IsTlsTerminated);
            json.WriteEndObject();
        }
        else
        {
            json.WriteNull(Tunnel);
        }

        json.WriteEndObject();
        json.Flush();
        buffer.Write("\n"u8);
        return buffer.WrittenMemory;
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
