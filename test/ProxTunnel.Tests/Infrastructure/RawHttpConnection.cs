using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace ProxTunnel.Tests.Infrastructure;

/// <summary>A raw client connection for tests that must control every byte: pipelining, CONNECT, hostile framing.</summary>
internal sealed class RawHttpConnection : IAsyncDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(15);
    private readonly TcpClient _client;
    private readonly List<byte> _pending = [];

    private RawHttpConnection(TcpClient client)
    {
        _client = client;
        Stream = client.GetStream();
    }

    public Stream Stream { get; private set; }

    public static async Task<RawHttpConnection> OpenAsync(int port)
    {
        var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        client.NoDelay = true;
        return new RawHttpConnection(client);
    }

    public async Task SendAsync(string text) => await SendAsync(Encoding.Latin1.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        await Stream.WriteAsync(bytes);
        await Stream.FlushAsync();
    }

    /// <summary>Sends CONNECT and reads the proxy's answer head.</summary>
    public async Task<RawResponse> ConnectAsync(string authority, string version = "HTTP/1.1", string extraHeaders = "")
    {
        await SendAsync($"CONNECT {authority} {version}\r\nHost: {authority}\r\n{extraHeaders}\r\n");
        return await ReadResponseAsync(expectBody: false);
    }

    /// <summary>Switches the connection to TLS, trusting only <paramref name="app"/>'s root.</summary>
    public async Task<SslStream> StartTlsAsync(TestApp app, string? serverName, List<System.Net.Security.SslApplicationProtocol>? alpn = null)
    {
        var ssl = new SslStream(Stream, leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = serverName ?? "",
            RemoteCertificateValidationCallback = (s, c, ch, e) => c is not null && app.ValidateWithRoot(s, c, ch, e & ~SslPolicyErrors.RemoteCertificateNameMismatch),
            ApplicationProtocols = alpn,
        };
        using var cts = new CancellationTokenSource(ReadTimeout);
        await ssl.AuthenticateAsClientAsync(options, cts.Token);
        Stream = ssl;
        _pending.Clear();
        return ssl;
    }

    /// <summary>Reads one response; the body by Content-Length or chunked unless <paramref name="expectBody"/> is false.</summary>
    public async Task<RawResponse> ReadResponseAsync(bool expectBody = true)
    {
        using var cts = new CancellationTokenSource(ReadTimeout);
        var headEnd = await FillUntilAsync(() => IndexOf(_pending, "\r\n\r\n"u8), cts.Token);
        if (headEnd < 0)
        {
            return RawResponse.Closed;
        }

        var head = Encoding.Latin1.GetString([.. _pending.GetRange(0, headEnd)]);
        _pending.RemoveRange(0, headEnd + 4);
        var lines = head.Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        var body = Array.Empty<byte>();
        if (expectBody && status is not (101 or 204 or 304) && status >= 200)
        {
            if (headers.TryGetValue("Content-Length", out var lengthText))
            {
                var length = int.Parse(lengthText, System.Globalization.CultureInfo.InvariantCulture);
                await FillUntilAsync(() => _pending.Count >= length ? length : -1, cts.Token);
                body = [.. _pending.GetRange(0, Math.Min(length, _pending.Count))];
                _pending.RemoveRange(0, body.Length);
            }
            else if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                var collected = new List<byte>();
                for (var guard = 0; guard < 100_000; guard++)
                {
                    var lineEnd = await FillUntilAsync(() => IndexOf(_pending, "\r\n"u8), cts.Token);
                    var size = Convert.ToInt32(Encoding.ASCII.GetString([.. _pending.GetRange(0, lineEnd)]).Split(';')[0], 16);
                    _pending.RemoveRange(0, lineEnd + 2);
                    if (size == 0)
                    {
                        await FillUntilAsync(() => IndexOf(_pending, "\r\n"u8), cts.Token);
                        _pending.RemoveRange(0, 2);
                        break;
                    }

                    await FillUntilAsync(() => _pending.Count >= size + 2 ? size : -1, cts.Token);
                    collected.AddRange(_pending.GetRange(0, size));
                    _pending.RemoveRange(0, size + 2);
                }

                body = [.. collected];
            }
            else if (headers.TryGetValue("Connection", out var connection) && connection.Equals("close", StringComparison.OrdinalIgnoreCase))
            {
                await FillUntilAsync(() => -1, cts.Token);
                body = [.. _pending];
                _pending.Clear();
            }
        }

        return new RawResponse(status, headers, body);
    }

    /// <summary>True when the server closed the connection (a read returns 0 bytes) within the timeout.</summary>
    public async Task<bool> IsClosedByServerAsync()
    {
        using var cts = new CancellationTokenSource(ReadTimeout);
        var buffer = new byte[4096];
        try
        {
            for (var i = 0; i < 10_000; i++)
            {
                var read = await Stream.ReadAsync(buffer, cts.Token);
                if (read == 0)
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        return false;
    }

    private async Task<int> FillUntilAsync(Func<int> found, CancellationToken cancellationToken)
    {
        var buffer = new byte[65536];
        for (var i = 0; i < 1_000_000; i++)
        {
            var at = found();
            if (at >= 0)
            {
                return at;
            }

            int read;
            try
            {
                read = await Stream.ReadAsync(buffer, cancellationToken);
            }
            catch (IOException)
            {
                read = 0;
            }

            if (read == 0)
            {
                return found();
            }

            _pending.AddRange(buffer.AsSpan(0, read));
        }

        throw new InvalidOperationException("response too long");
    }

    private static int IndexOf(List<byte> data, ReadOnlySpan<byte> needle)
    {
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(data);
        return span.IndexOf(needle);
    }

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync();
        _client.Dispose();
    }
}

internal sealed record RawResponse(int Status, Dictionary<string, string> Headers, byte[] Body)
{
    public static readonly RawResponse Closed = new(0, new Dictionary<string, string>(), []);

    public string Text => Encoding.UTF8.GetString(Body);

    public System.Text.Json.Nodes.JsonNode Json => TestApp.ParseJson(Text);
}
