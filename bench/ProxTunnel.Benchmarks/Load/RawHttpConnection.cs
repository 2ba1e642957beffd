using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// A minimal keep-alive HTTP/1.1 client over a socket, optionally through CONNECT and TLS: writes a fixed request,
/// reads the response head and a Content-Length body. Far cheaper than HttpClient, so the server dominates.
/// </summary>
internal sealed class RawHttpConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private Stream _stream;
    private int _start;
    private int _end;

    private RawHttpConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
    }

    public static async Task<RawHttpConnection> ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new RawHttpConnection(socket);
    }

    /// <summary>Connects to the proxy, CONNECTs to <paramref name="host"/>:443 and, with TLS, handshakes with SNI <paramref name="host"/>.</summary>
    public static async Task<RawHttpConnection> OpenTunnelAsync(IPEndPoint proxy, string host, RootTrust trust, CancellationToken cancellationToken = default)
        => await OpenTunnelAsync(proxy, host, trust, SslApplicationProtocol.Http11, cancellationToken);

    /// <summary>Like the other overload, offering <paramref name="protocol"/> in ALPN (h2 for <see cref="SendHttp2GetAsync"/>).</summary>
    public static async Task<RawHttpConnection> OpenTunnelAsync(IPEndPoint proxy, string host, RootTrust trust, SslApplicationProtocol protocol,
        CancellationToken cancellationToken = default)
    {
        var connection = await ConnectAsync(proxy, cancellationToken);
        try
        {
            await connection.RequestTunnelAsync(host, cancellationToken);
            await connection.StartTlsAsync(host, trust, protocol, cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Sends <c>CONNECT host:443</c> on this proxy connection; anything but a 200 throws.</summary>
    public async Task RequestTunnelAsync(string host, CancellationToken cancellationToken = default)
    {
        var connect = Encoding.ASCII.GetBytes($"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n");
        var status = await SendAsync(connect, cancellationToken);
        if (status.Status != 200)
        {
            throw new InvalidOperationException($"CONNECT {host}:443 answered {status.Status}");
        }
    }

    public static async Task<RawHttpConnection> OpenTlsAsync(IPEndPoint endPoint, string host, RootTrust trust, CancellationToken cancellationToken = default)
        => await OpenTlsAsync(endPoint, host, trust, SslApplicationProtocol.Http11, cancellationToken);

    public static async Task<RawHttpConnection> OpenTlsAsync(IPEndPoint endPoint, string host, RootTrust trust, SslApplicationProtocol protocol,
        CancellationToken cancellationToken = default)
    {
        var connection = await ConnectAsync(endPoint, cancellationToken);
        try
        {
            await connection.StartTlsAsync(host, trust, protocol, cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public async Task StartTlsAsync(string host, RootTrust trust, SslApplicationProtocol protocol, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = host,
            RemoteCertificateValidationCallback = trust.Callback,
            CertificateChainPolicy = trust.ChainPolicy,
            AllowTlsResume = trust.ResumeSessions,
            ApplicationProtocols = [protocol],
        }, cancellationToken);
        if (ssl.NegotiatedApplicationProtocol != protocol)
        {
            throw new InvalidOperationException($"ALPN gave '{ssl.NegotiatedApplicationProtocol}', not '{protocol}'");
        }

        _stream = ssl;
    }

    /// <summary>
    /// Opens HTTP/2 on this (h2-negotiated) connection and sends <c>GET /hello</c> on stream 1: the preface, empty
    /// SETTINGS, one HEADERS frame from HPACK static-table entries; reads frames (acknowledging the server's SETTINGS)
    /// until stream 1 ends. Returns the status: 200 when the response's first header is the static <c>:status 200</c>.
    /// </summary>
    public async ValueTask<int> SendHttp2GetAsync(string authority, CancellationToken cancellationToken = default)
    {
        var request = new List<byte>("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray());
        AddFrame(request, type: 0x4, flags: 0, stream: 0, []);
        // :method GET, :scheme https, :path / are static entries 2, 7, 4; :authority is a literal with indexed name 1.
        byte[] block = [0x82, 0x87, 0x84, 0x41, (byte)authority.Length, .. Encoding.ASCII.GetBytes(authority)];
        AddFrame(request, type: 0x1, flags: 0x5, stream: 1, block);
        await _stream.WriteAsync(request.ToArray(), cancellationToken);
        var status = 0;
        for (var frames = 0; frames < 64; frames++)
        {
            while (_end - _start < 9)
            {
                await FillAsync(cancellationToken);
            }

            var header = _buffer.AsSpan(_start, 9);
            var length = (header[0] << 16) | (header[1] << 8) | header[2];
            var (type, flags) = (header[3], header[4]);
            var stream = ((header[5] & 0x7f) << 24) | (header[6] << 16) | (header[7] << 8) | header[8];
            while (_end - _start < 9 + length)
            {
                await FillAsync(cancellationToken);
            }

            var payload = _buffer.AsSpan(_start + 9, length);
            if (type == 0x1 && stream == 1 && status == 0)
            {
                status = payload.Length > 0 && payload[0] == 0x88 ? 200 : -1;
            }

            var ended = stream == 1 && (type is 0x0 or 0x1) && (flags & 0x1) != 0;
            var ackSettings = type == 0x4 && (flags & 0x1) == 0;
            if (type == 0x7)
            {
                throw new IOException("GOAWAY from the server");
            }

            _start += 9 + length;
            if (ackSettings)
            {
                var ack = new List<byte>();
                AddFrame(ack, type: 0x4, flags: 0x1, stream: 0, []);
                await _stream.WriteAsync(ack.ToArray(), cancellationToken);
            }

            if (ended)
            {
                return status;
            }
        }

        throw new InvalidOperationException("stream 1 did not end within 64 frames");
    }

    private static void AddFrame(List<byte> to, byte type, byte flags, int stream, ReadOnlySpan<byte> payload)
    {
        to.AddRange([(byte)(payload.Length >> 16), (byte)(payload.Length >> 8), (byte)payload.Length, type, flags,
            (byte)(stream >> 24), (byte)(stream >> 16), (byte)(stream >> 8), (byte)stream]);
        to.AddRange(payload);
    }

    /// <summary>Sends <paramref name="request"/> and reads the whole response; the body is discarded.</summary>
    public async ValueTask<(int Status, long BodyLength)> SendAsync(ReadOnlyMemory<byte> request, CancellationToken cancellationToken = default)
    {
        await _stream.WriteAsync(request, cancellationToken);
        int headEnd;
        while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            await FillAsync(cancellationToken);
        }

        var (status, contentLength) = ParseHead(_buffer.AsSpan(_start, headEnd + 2));
        _start += headEnd + 4;
        var remaining = contentLength;
        var buffered = Math.Min(remaining, _end - _start);
        _start += (int)buffered;
        remaining -= buffered;
        while (remaining > 0)
        {
            var read = await _stream.ReadAsync(_buffer, cancellationToken);
            if (read == 0)
            {
                throw new IOException("connection closed mid-body");
            }

            var used = (int)Math.Min(read, remaining);
            remaining -= used;
            _start = used;
            _end = read;
        }

        if (_start == _end)
        {
            _start = _end = 0;
        }

        return (status, contentLength);
    }

    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            throw new InvalidOperationException("response head too large");
        }

        var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        if (read == 0)
        {
            throw new IOException("connection closed before the response head");
        }

        _end += read;
    }

    private static (int Status, long ContentLength) ParseHead(ReadOnlySpan<byte> head)
    {
        if (head.Length < 12 || !head.StartsWith("HTTP/1."u8))
        {
            throw new InvalidOperationException("not an HTTP response");
        }

        var status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
        long contentLength = 0;
        var lines = head[(head.IndexOf("\r\n"u8) + 2)..];
        while (!lines.IsEmpty)
        {
            var end = lines.IndexOf("\r\n"u8);
            var line = lines[..end];
            lines = lines[(end + 2)..];
            if (line.Length > 15 && Ascii.EqualsIgnoreCase(line[..15], "content-length:"u8))
            {
                contentLength = long.Parse(Encoding.ASCII.GetString(line[15..]).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return (status, contentLength);
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _socket.Dispose();
    }
}
