using System.Buffers;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;

namespace ProxTunnel.Gateway;

/// <summary>
/// <c>--har FILE</c>: every exchange the app answered, as HAR 1.2. The file is created new (an existing one is never
/// replaced) and each entry is appended, on a line of its own, as soon as its exchange completes, so a crash loses only
/// the exchanges in flight. A normal stop writes the closing <c>]}}</c>. The separating comma starts the next entry's
/// line rather than ending the previous one: after a crash, dropping a last line that does not parse and appending
/// <c>]}}</c> gives valid JSON again.
/// </summary>
internal sealed class HarWriter : IAsyncDisposable
{
    private const string Header = "{\"log\":{\"version\":\"1.2\",\"creator\":{\"name\":\"ProxTunnel\",\"version\":\"{0}\"},\"entries\":[\n";
    private const string Footer = "\n]}}\n";

    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly FileStream _file;
    private readonly Channel<byte[]> _entries = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(1024) { SingleReader = true });
    private readonly Task _pump;
    private long _written;
    private bool _discard;

    private HarWriter(string path, FileStream file)
    {
        Path = path;
        _file = file;
        _pump = PumpAsync();
    }

    public string Path { get; }

    /// <summary>Where write failures are reported; set once the app's logging exists.</summary>
    public ILogger? Logger { get; set; }

    /// <summary>Creates <paramref name="path"/>, failing if it exists, and writes the HAR header.</summary>
    public static HarWriter Create(string path)
    {
        var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.Read, Options = FileOptions.Asynchronous,
        });
        var version = typeof(HarWriter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
        file.Write(Encoding.UTF8.GetBytes(Header.Replace("{0}", JsonEncodedText.Encode(version.Split('+')[0]).ToString(), StringComparison.Ordinal)));
        file.Flush();
        return new HarWriter(path, file);
    }

    /// <summary>Queues the entry of one completed exchange; waits when the disk is far behind.</summary>
    public async ValueTask AddAsync(HttpContext context, HarTimings timings, BodyCapture requestBody, RecordingResponseBody response)
    {
        var entry = Serialize(context, timings, requestBody, response);
        if (!_entries.Writer.TryWrite(entry))
        {
            try
            {
                // Full: wait for room rather than drop an exchange silently.
                await _entries.Writer.WriteAsync(entry).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                // The file failed or the gateway is stopping: the failure was reported once already.
            }
        }
    }

    /// <summary>The gateway never served: remove the file it created instead of leaving an empty HAR behind.</summary>
    public void DiscardOnClose() => _discard = true;

    public async ValueTask DisposeAsync()
    {
        _entries.Writer.TryComplete();
        await _pump.ConfigureAwait(false);
        if (_discard)
        {
            await _file.DisposeAsync().ConfigureAwait(false);
            File.Delete(Path);
            return;
        }

        await using (_file.ConfigureAwait(false))
        {
            try
            {
                await _file.WriteAsync(Encoding.UTF8.GetBytes(Footer)).ConfigureAwait(false);
                await _file.FlushAsync().ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                Report(ex);
            }
        }
    }

    private async Task PumpAsync()
    {
        await Task.Yield();
        var separator = "\n,"u8.ToArray();
        try
        {
            while (await _entries.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (_entries.Reader.TryRead(out var entry))
                {
                    if (_written++ > 0)
                    {
                        await _file.WriteAsync(separator).ConfigureAwait(false);
                    }

                    await _file.WriteAsync(entry).ConfigureAwait(false);
                }

                // One flush per burst: entries reach the file as they complete, without a write(2) per line under load.
                await _file.FlushAsync().ConfigureAwait(false);
                if (Logger is not null)
                {
                    GatewayLog.HarFlushed(Logger, Path, _written);
                }
            }
        }
        catch (IOException ex)
        {
            Report(ex);
            _entries.Writer.TryComplete();
        }
    }

    private void Report(IOException ex)
    {
        if (Logger is not null)
        {
            GatewayLog.HarFailed(Logger, Path, ex.Message);
        }
    }

    private static byte[] Serialize(HttpContext context, HarTimings timings, BodyCapture requestBody, RecordingResponseBody response)
    {
        var request = context.Request;
        var buffer = new ArrayBufferWriter<byte>(2048);
        using (var json = new Utf8JsonWriter(buffer, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("startedDateTime", timings.StartedAt.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            json.WriteNumber("time", Math.Round(timings.TotalMilliseconds, 3));

            json.WriteStartObject("request");
            json.WriteString("method", request.Method);
            json.WriteString("url", ExchangeRecording.AbsoluteUrl(context));
            json.WriteString("httpVersion", request.Protocol);
            json.WriteStartArray("cookies");
            json.WriteEndArray();
            WriteHeaders(json, request.Headers);
            json.WriteStartArray("queryString");
            foreach (var (name, values) in request.Query)
            {
                foreach (var value in values)
                {
                    WriteNameValue(json, name, value ?? "");
                }
            }

            json.WriteEndArray();
            if (requestBody.Total > 0)
            {
                json.WriteStartObject("postData");
                json.WriteString("mimeType", request.ContentType ?? "");
                WriteBody(json, requestBody, request.ContentType, textOnly: true);
                json.WriteEndObject();
            }

            json.WriteNumber("headersSize", -1);
            json.WriteNumber("bodySize", requestBody.Total);
            json.WriteEndObject();

            var status = context.Response.StatusCode;
            json.WriteStartObject("response");
            json.WriteNumber("status", status);
            json.WriteString("statusText", ReasonPhrases.GetReasonPhrase(status));
            json.WriteString("httpVersion", request.Protocol);
            json.WriteStartArray("cookies");
            json.WriteEndArray();
            WriteHeaders(json, context.Response.Headers);
            json.WriteStartObject("content");
            json.WriteNumber("size", response.BytesWritten);
            json.WriteString("mimeType", context.Response.ContentType ?? "");
            if (response.Capture is { Total: > 0 } body)
            {
                WriteBody(json, body, context.Response.ContentType, textOnly: false);
            }

            json.WriteEndObject();
            json.WriteString("redirectURL", context.Response.Headers.Location.ToString());
            json.WriteNumber("headersSize", -1);
            json.WriteNumber("bodySize", response.BytesWritten);
            json.WriteEndObject();

            json.WriteStartObject("cache");
            json.WriteEndObject();
            json.WriteStartObject("timings");
            json.WriteNumber("send", 0);
            json.WriteNumber("wait", Math.Round(timings.WaitMilliseconds, 3));
            json.WriteNumber("receive", Math.Round(timings.ReceiveMilliseconds, 3));
            json.WriteEndObject();
            if (context.Connection.RemoteIpAddress is { } client)
            {
                json.WriteString("_clientAddress", client.ToString());
            }

            if (context.Features.Get<IProxyTunnelFeature>() is { } tunnel)
            {
                json.WriteString("connection", string.Create(CultureInfo.InvariantCulture, $"{tunnel.ConnectHost}:{tunnel.ConnectPort}"));
            }

            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteHeaders(Utf8JsonWriter json, IHeaderDictionary headers)
    {
        json.WriteStartArray("headers");
        foreach (var (name, values) in headers)
        {
            foreach (var value in values)
            {
                WriteNameValue(json, name, value ?? "");
            }
        }

        json.WriteEndArray();
    }

    private static void WriteNameValue(Utf8JsonWriter json, string name, string value)
    {
        json.WriteStartObject();
        json.WriteString("name", name);
        json.WriteString("value", value);
        json.WriteEndObject();
    }

    /// <summary>Text when the body is UTF-8 of a textual type; else base64 (responses) or nothing but a comment (request
    /// bodies: HAR's postData has no encoding field). Bodies beyond <see cref="BodyCapture.Limit"/> are cut, and say so.</summary>
    private static void WriteBody(Utf8JsonWriter json, BodyCapture body, string? contentType, bool textOnly)
    {
        var data = body.Data;
        if (IsTextual(contentType) && System.Text.Unicode.Utf8.IsValid(data))
        {
            json.WriteString("text", data);
        }
        else if (!textOnly)
        {
            json.WriteBase64String("text", data);
            json.WriteString("encoding", "base64");
        }
        else
        {
            json.WriteString("text", "");
        }

        if (body.IsTruncated || (textOnly && !IsTextual(contentType)))
        {
            json.WriteString("comment", string.Create(CultureInfo.InvariantCulture,
                $"body of {body.Total} bytes: {(IsTextual(contentType) && System.Text.Unicode.Utf8.IsValid(data) ? $"first {body.Captured} kept" : "binary, not kept")}"));
        }
    }

    private static bool IsTextual(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return false;
        }

        var type = contentType.AsSpan();
        var semicolon = type.IndexOf(';');
        type = (semicolon < 0 ? type : type[..semicolon]).Trim();
        return type.StartsWith("text/", StringComparison.OrdinalIgnoreCase)
            || type.EndsWith("json", StringComparison.OrdinalIgnoreCase)
            || type.EndsWith("xml", StringComparison.OrdinalIgnoreCase)
            || type.Equals("application/javascript", StringComparison.OrdinalIgnoreCase)
            || type.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase);
    }
}
