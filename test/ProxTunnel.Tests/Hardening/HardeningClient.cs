using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace ProxTunnel.Tests.Hardening;

/// <summary>One parsed response: status, headers (last value wins) and the body.</summary>
internal sealed record LiteResponse(int Status, Dictionary<string, string> Headers, byte[] Body)
{
    public string Text => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// A raw client for hardening tests: every byte under the test's control, buffered response parsing (Content-Length,
/// chunked, close-delimited, 1xx skipped) with a cancellation token on every read, and an abortive close (RST).
/// </summary>
internal sealed class HardeningClient : IAsyncDisposable
{
    private readonly TcpClient _client;
    private byte[] _buffer = new byte[16384];
    private int _start;
    private int _end;

    private HardeningClient(TcpClient client)
    {
        _client = client;
        Stream = client.GetStream();
    }

    public Stream Stream { get; private set; }

    public Socket Socket => _client.Client;

    public static async Task<HardeningClient> OpenAsync(int port, CancellationToken cancellationToken = default)
    {
        var client = new TcpClient { NoDelay = true };
        try
        {
            await client.ConnectAsync("127.0.0.1", port, cancellationToken);
        }
        catch
        {
            client.Dispose();
            throw;
        }

        return new HardeningClient(client);
    }

    public async Task SendAsync(string text, CancellationToken cancellationToken = default) => await SendAsync(Encoding.Latin1.GetBytes(text), cancellationToken);

    public async Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        await Stream.WriteAsync(bytes, cancellationToken);
        await Stream.FlushAsync(cancellationToken);
    }

    /// <summary>Sends CONNECT and reads the answer's head.</summary>
    public async Task<LiteResponse?> ConnectAsync(string authority, CancellationToken cancellationToken)
    {
        await SendAsync($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n", cancellationToken);
        return await ReadResponseAsync(cancellationToken, expectBody: false);
    }

    /// <summary>Starts TLS inside the tunnel; accepts a certificate issued by <paramref name="root"/> only.</summary>
    public async Task StartTlsAsync(string serverName, X509Certificate2 root, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(Stream, leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => ChainsTo(certificate, root),
        }, cancellationToken);
        Stream = ssl;
        _start = _end = 0;
    }

    public static bool ChainsTo(X509Certificate? certificate, X509Certificate2 root)
    {
        if (certificate is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    /// <summary>Reads one final response (1xx skipped); null when the connection closed (or was reset) before a whole head.</summary>
    public async Task<LiteResponse?> ReadResponseAsync(CancellationToken cancellationToken, bool expectBody = true)
    {
        for (var informational = 0; informational < 16; informational++)
        {
            var headEnd = await FillUntilAsync(() => _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8), cancellationToken);
            if (headEnd < 0)
            {
                return null;
            }

            var head = Encoding.Latin1.GetString(_buffer, _start, headEnd);
            _start += headEnd + 4;
            var lines = head.Split("\r\n");
            var parts = lines[0].Split(' ');
            if (parts.Length < 2 || !int.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var status))
            {
                throw new InvalidDataException($"not a status line: {lines[0]}");
            }

            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var line in lines.Skip(1))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0)
                {
                    headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
                }
            }

            if (status is >= 100 and < 200 && status != 101)
            {
                continue;
            }

            if (!expectBody || status is 101 or 204 or 304)
            {
                return new LiteResponse(status, headers, []);
            }

            if (headers.TryGetValue("Content-Length", out var lengthText))
            {
                var length = int.Parse(lengthText, System.Globalization.CultureInfo.InvariantCulture);
                var got = await FillUntilAsync(() => _end - _start >= length ? length : -1, cancellationToken);
                if (got < 0)
                {
                    return null;
                }

                var body = _buffer.AsSpan(_start, length).ToArray();
                _start += length;
                return new LiteResponse(status, headers, body);
            }

            if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                var collected = new MemoryStream();
                for (var guard = 0; guard < 1_000_000; guard++)
                {
                    var lineEnd = await FillUntilAsync(() => _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8), cancellationToken);
                    if (lineEnd < 0)
                    {
                        return null;
                    }

                    var size = Convert.ToInt32(Encoding.ASCII.GetString(_buffer, _start, lineEnd).Split(';')[0], 16);
                    _start += lineEnd + 2;
                    if (size == 0)
                    {
                        if (await FillUntilAsync(() => _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8), cancellationToken) < 0)
                        {
                            return null;
                        }

                        _start += 2;
                        return new LiteResponse(status, headers, collected.ToArray());
                    }

                    if (await FillUntilAsync(() => _end - _start >= size + 2 ? size : -1, cancellationToken) < 0)
                    {
                        return null;
                    }

                    collected.Write(_buffer, _start, size);
                    _start += size + 2;
                }

                throw new InvalidDataException("too many chunks");
            }

            // Close-delimited (HTTP/1.0 responses without a length).
            await FillUntilAsync(() => -1, cancellationToken);
            var rest = _buffer.AsSpan(_start, _end - _start).ToArray();
            _start = _end;
            return new LiteResponse(status, headers, rest);
        }

        throw new InvalidDataException("too many informational responses");
    }

    /// <summary>Waits for the server to close; returns the bytes (if any) it still sent first. Throws on timeout.</summary>
    public async Task<byte[]> ReadUntilClosedAsync(CancellationToken cancellationToken)
    {
        await FillUntilAsync(() => -1, cancellationToken);
        var rest = _buffer.AsSpan(_start, _end - _start).ToArray();
        _start = _end;
        return rest;
    }

    /// <summary>Reads until <paramref name="found"/> returns a position (relative to the unread data) or the peer closes (-1 then).</summary>
    private async Task<int> FillUntilAsync(Func<int> found, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 10_000_000; i++)
        {
            var at = found();
            if (at >= 0)
            {
                return at;
            }

            if (_start > 0 && _start == _end)
            {
                _start = _end = 0;
            }

            if (_end == _buffer.Length)
            {
                if (_start > 0)
                {
                    Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                    _end -= _start;
                    _start = 0;
                }
                else
                {
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                }
            }

            int read;
            try
            {
                read = await Stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            }
            catch (IOException)
            {
                read = 0;
            }
            catch (ObjectDisposedException)
            {
                read = 0;
            }

            if (read == 0)
            {
                return found();
            }

            _end += read;
        }

        throw new InvalidDataException("response too long");
    }

    /// <summary>Closes with a TCP reset (linger 0): the abrupt way a crashing or cancelled client goes.</summary>
    public void Reset()
    {
        try
        {
            _client.Client.LingerState = new LingerOption(true, 0);
            _client.Client.Close();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Stream.DisposeAsync();
        }
        catch (IOException)
        {
        }

        _client.Dispose();
    }
}
