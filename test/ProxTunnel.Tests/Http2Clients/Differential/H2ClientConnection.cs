using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace ProxTunnel.Tests.Http2Clients.Differential;

/// <summary>
/// A small HTTP/2 client that writes every frame itself (HEADERS split into CONTINUATION, padding, priority, DATA in
/// chosen sizes under flow control, trailers), directly or through a CONNECT tunnel. It reads only what it needs of the
/// responses: the status and the end of each stream.
/// </summary>
internal sealed class H2ClientConnection : IAsyncDisposable
{
    private const byte Data = 0x0, Headers = 0x1, RstStream = 0x3, Settings = 0x4, Ping = 0x6, GoAway = 0x7, WindowUpdate = 0x8, Continuation = 0x9;
    private const byte EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4, Padded = 0x8, PriorityFlag = 0x20;
    private const int ClientWindow = 16 * 1024 * 1024;
    private const int DefaultWindow = 65535;

    /// <summary>Status given to a stream the server reset: -1000 minus the error code.</summary>
    public const int ResetBase = -1000;

    private readonly Socket _socket;
    private readonly SslStream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly SemaphoreSlim _inFlight;
    private readonly object _sync = new();
    private readonly Dictionary<int, StreamState> _streams = [];
    private readonly TaskCompletionSource _settingsReceived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _windowChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _reader = Task.CompletedTask;
    private long _connectionWindow = DefaultWindow;
    private int _initialStreamWindow = DefaultWindow;
    private int _maxFrameSize = 16384;
    private int _nextStreamId = 1;
    private long _unacknowledged;
    private Exception? _failure;

    private H2ClientConnection(Socket socket, SslStream stream, int maxInFlight)
    {
        _socket = socket;
        _stream = stream;
        _inFlight = new SemaphoreSlim(maxInFlight, maxInFlight);
    }

    private sealed class StreamState
    {
        public TaskCompletionSource<int> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public long Window { get; set; }
        public int Status { get; set; }
        public byte[] Block { get; set; } = [];
        public bool EndAfterBlock { get; set; }
    }

    public static async Task<H2ClientConnection> OpenAsync(int port, bool throughProxy, string host, RemoteCertificateValidationCallback validate,
        int maxInFlight, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
            var network = new NetworkStream(socket, ownsSocket: false);
            if (throughProxy)
            {
                await ConnectThroughProxyAsync(network, host, cancellationToken);
            }

            var ssl = new SslStream(network, leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = host,
                RemoteCertificateValidationCallback = validate,
                ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
            }, cancellationToken);
            if (ssl.NegotiatedApplicationProtocol != SslApplicationProtocol.Http2)
            {
                await ssl.DisposeAsync();
                throw new InvalidOperationException($"ALPN chose '{ssl.NegotiatedApplicationProtocol}', not h2");
            }

            var connection = new H2ClientConnection(socket, ssl, maxInFlight);
            await connection.StartAsync(cancellationToken);
            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task ConnectThroughProxyAsync(NetworkStream network, string host, CancellationToken cancellationToken)
    {
        await network.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n"), cancellationToken);
        var head = new List<byte>();
        var one = new byte[1];

        // Byte by byte, bounded: nothing after the CONNECT answer may be consumed here.
        while (head.Count < 8192 && !(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await network.ReadAsync(one, cancellationToken) == 0)
            {
                throw new IOException("proxy closed before answering CONNECT");
            }

            head.Add(one[0]);
        }

        var status = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n")[0];
        if (!status.Contains(" 200 ", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("CONNECT answered " + status);
        }
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        var start = new ArrayBufferWriter<byte>();
        start.Write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8);
        var settings = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(settings, 0x2); // ENABLE_PUSH
        BinaryPrimitives.WriteUInt32BigEndian(settings.AsSpan(2), 0);
        BinaryPrimitives.WriteUInt16BigEndian(settings.AsSpan(6), 0x4); // INITIAL_WINDOW_SIZE
        BinaryPrimitives.WriteUInt32BigEndian(settings.AsSpan(8), ClientWindow);
        WriteFrame(start, Settings, 0, 0, settings);
        WriteFrame(start, WindowUpdate, 0, 0, Increment(ClientWindow - DefaultWindow));
        await _stream.WriteAsync(start.WrittenMemory, cancellationToken);
        _reader = Task.Run(ReadLoopAsync, CancellationToken.None);
        await _settingsReceived.Task.WaitAsync(TimeSpan.FromSeconds(15), cancellationToken);
    }

    /// <summary>Sends one request; completes with the response status once its stream has ended.</summary>
    public async Task<int> SendAsync(GeneratedRequest request, HpackWriter encoder, string authority, CancellationToken cancellationToken)
    {
        await _inFlight.WaitAsync(cancellationToken);
        try
        {
            var hasBody = request.Body is not null || request.Trailers is not null;
            var fields = new List<(string, string)>(request.Headers.Count + 4)
            {
                (":method", request.Method), (":scheme", "https"), (":authority", authority), (":path", request.PathAndQuery),
            };
            fields.AddRange(request.Headers);
            StreamState state;
            int streamId;
            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                // Stream ids must rise in the order HEADERS are written, and the HPACK state follows write order.
                streamId = _nextStreamId;
                _nextStreamId += 2;
                state = new StreamState();
                lock (_sync)
                {
                    ThrowIfFailed();
                    state.Window = _initialStreamWindow;
                    _streams[streamId] = state;
                }

                await WriteHeaderBlockAsync(streamId, encoder, fields, request.TableSizeUpdates, !hasBody, request.HeaderFragments, request.Padding, request.Priority, cancellationToken);
            }
            finally
            {
                _writeLock.Release();
            }

            if (request.Body is not null)
            {
                await WriteBodyAsync(streamId, state, request.Body, request.Trailers is null, request.DataChunk, request.Padding, cancellationToken);
            }

            // Trailers on a stream the server already reset would be a connection error of their own.
            if (request.Trailers is not null && !state.Done.Task.IsCompleted)
            {
                await _writeLock.WaitAsync(cancellationToken);
                try
                {
                    await WriteHeaderBlockAsync(streamId, encoder, request.Trailers, [], true, 1, -1, false, cancellationToken);
                }
                finally
                {
                    _writeLock.Release();
                }
            }

            return await state.Done.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        }
        finally
        {
            _inFlight.Release();
        }
    }

    private async Task WriteHeaderBlockAsync(int streamId, HpackWriter encoder, IEnumerable<(string, string)> fields, IReadOnlyList<int> sizeUpdates,
        bool endStream, int fragments, int padding, bool priority, CancellationToken cancellationToken)
    {
        var block = new ArrayBufferWriter<byte>();
        encoder.Encode(block, fields, sizeUpdates);
        var overhead = (padding >= 0 ? padding + 1 : 0) + (priority ? 5 : 0);
        var pieceSize = Math.Clamp((block.WrittenCount + fragments - 1) / fragments, 1, _maxFrameSize - overhead);
        var frames = new ArrayBufferWriter<byte>();
        var remaining = block.WrittenMemory;
        var first = true;
        do
        {
            var piece = remaining[..Math.Min(pieceSize, remaining.Length)];
            remaining = remaining[piece.Length..];
            var flags = (byte)(remaining.IsEmpty ? EndHeaders : 0);
            if (first)
            {
                flags |= (byte)((endStream ? EndStream : 0) | (padding >= 0 ? Padded : 0) | (priority ? PriorityFlag : 0));
                var payload = new byte[overhead + piece.Length];
                var at = 0;
                if (padding >= 0)
                {
                    payload[at++] = (byte)padding;
                }

                if (priority)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(at), (uint)Math.Max(0, streamId - 2));
                    payload[at + 4] = (byte)(streamId % 256);
                    at += 5;
                }

                piece.Span.CopyTo(payload.AsSpan(at));
                WriteFrame(frames, Headers, flags, streamId, payload);
                first = false;
            }
            else
            {
                WriteFrame(frames, Continuation, flags, streamId, piece.Span);
            }
        }
        while (!remaining.IsEmpty);

        await _stream.WriteAsync(frames.WrittenMemory, cancellationToken);
    }

    private async Task WriteBodyAsync(int streamId, StreamState state, byte[] body, bool endStream, int chunk, int padding, CancellationToken cancellationToken)
    {
        var offset = 0;
        var frames = new ArrayBufferWriter<byte>();
        do
        {
            if (state.Done.Task.IsCompleted)
            {
                return; // the server already ended the stream (a reset): the rest of the body has nowhere to go
            }

            // Flow control counts padding too, so reserve it with the data; without room for both, send no padding.
            var padOverhead = padding >= 0 ? Math.Min(padding, 255) + 1 : 0;
            var wanted = Math.Min(Math.Min(chunk, body.Length - offset), _maxFrameSize - padOverhead);
            var reserved = wanted == 0 ? 0 : await ReserveAsync(state, wanted + padOverhead, cancellationToken);
            var padLength = reserved > padOverhead ? padOverhead - 1 : -1;
            var granted = padLength >= 0 ? reserved - padOverhead : reserved;
            var last = offset + granted == body.Length;
            var flags = (byte)((last && endStream ? EndStream : 0) | (padLength >= 0 ? Padded : 0));
            var payload = new byte[granted + (padLength >= 0 ? padLength + 1 : 0)];
            if (padLength >= 0)
            {
                payload[0] = (byte)padLength;
            }

            body.AsSpan(offset, granted).CopyTo(payload.AsSpan(padLength >= 0 ? 1 : 0));
            offset += granted;
            frames.ResetWrittenCount();
            WriteFrame(frames, Data, flags, streamId, payload);
            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                await _stream.WriteAsync(frames.WrittenMemory, cancellationToken);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        while (offset < body.Length);
    }

    /// <summary>Waits until both windows have room; takes up to <paramref name="wanted"/> bytes of it.</summary>
    private async Task<int> ReserveAsync(StreamState state, int wanted, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 100_000; attempt++)
        {
            Task changed;
            lock (_sync)
            {
                ThrowIfFailed();
                var granted = (int)Math.Min(wanted, Math.Min(_connectionWindow, state.Window));
                if (granted > 0)
                {
                    _connectionWindow -= granted;
                    state.Window -= granted;
                    return granted;
                }

                changed = _windowChanged.Task;
            }

            await changed.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        }

        throw new InvalidOperationException("flow-control window never reopened");
    }

    private async Task ReadLoopAsync()
    {
        var header = new byte[9];
        try
        {
            while (true)
            {
                await _stream.ReadExactlyAsync(header, _stop.Token);
                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                var type = header[3];
                var flags = header[4];
                var streamId = (int)(BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(5)) & 0x7FFFFFFF);
                var payload = new byte[length];
                await _stream.ReadExactlyAsync(payload, _stop.Token);
                await HandleFrameAsync(type, flags, streamId, payload);
            }
        }
        catch (Exception error)
        {
            Fail(error is EndOfStreamException ? new IOException("server closed the connection", error) : error);
        }
    }

    private async Task HandleFrameAsync(byte type, byte flags, int streamId, byte[] payload)
    {
        switch (type)
        {
            case Data:
                if ((flags & EndStream) != 0)
                {
                    Complete(streamId, null);
                }

                _unacknowledged += payload.Length;
                if (_unacknowledged > ClientWindow / 2)
                {
                    await SendControlAsync(WindowUpdate, 0, 0, Increment((int)_unacknowledged));
                    _unacknowledged = 0;
                }

                break;
            case Headers:
            case Continuation:
                OnHeaderFragment(type, flags, streamId, payload);
                break;
            case RstStream:
                Complete(streamId, ResetBase - (int)BinaryPrimitives.ReadUInt32BigEndian(payload));
                break;
            case Settings when (flags & Ack) == 0:
                ApplySettings(payload);
                await SendControlAsync(Settings, Ack, 0, Array.Empty<byte>());
                _settingsReceived.TrySetResult();
                break;
            case Ping when (flags & Ack) == 0:
                await SendControlAsync(Ping, Ack, 0, payload);
                break;
            case GoAway:
                var code = BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(4));
                Fail(new IOException($"server sent GOAWAY, error code {code}: {Encoding.ASCII.GetString(payload, 8, payload.Length - 8)}"));
                break;
            case WindowUpdate:
                var increment = (int)(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFFFFFF);
                lock (_sync)
                {
                    if (streamId == 0)
                    {
                        _connectionWindow += increment;
                    }
                    else if (_streams.TryGetValue(streamId, out var state))
                    {
                        state.Window += increment;
                    }

                    SignalWindowChanged();
                }

                break;
        }
    }

    private void OnHeaderFragment(byte type, byte flags, int streamId, byte[] payload)
    {
        var fragment = payload.AsSpan();
        if (type == Headers)
        {
            var padLength = (flags & Padded) != 0 ? fragment[0] : 0;
            fragment = fragment[((flags & Padded) != 0 ? 1 : 0)..(fragment.Length - padLength)];
            fragment = (flags & PriorityFlag) != 0 ? fragment[5..] : fragment;
        }

        StreamState? state;
        lock (_sync)
        {
            _streams.TryGetValue(streamId, out state);
        }

        if (state is null)
        {
            return;
        }

        state.Block = [.. state.Block, .. fragment];
        state.EndAfterBlock |= type == Headers && (flags & EndStream) != 0;
        if ((flags & EndHeaders) == 0)
        {
            return;
        }

        if (state.Status is 0 or (>= 100 and < 200))
        {
            state.Status = ResponseStatus.Parse(state.Block);
        }

        state.Block = [];
        if (state.EndAfterBlock)
        {
            Complete(streamId, null);
        }
    }

    private void ApplySettings(byte[] payload)
    {
        lock (_sync)
        {
            for (var at = 0; at + 6 <= payload.Length; at += 6)
            {
                var id = BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(at));
                var value = (int)BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(at + 2));
                if (id == 0x4)
                {
                    foreach (var state in _streams.Values)
                    {
                        state.Window += value - _initialStreamWindow;
                    }

                    _initialStreamWindow = value;
                }
                else if (id == 0x5)
                {
                    _maxFrameSize = value;
                }
            }

            SignalWindowChanged();
        }
    }

    private void SignalWindowChanged()
    {
        var changed = _windowChanged;
        _windowChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    private void Complete(int streamId, int? status)
    {
        StreamState? state;
        lock (_sync)
        {
            if (_streams.Remove(streamId, out state))
            {
                state.Done.TrySetResult(status ?? state.Status);
                SignalWindowChanged();
            }
        }
    }

    private void Fail(Exception error)
    {
        lock (_sync)
        {
            _failure ??= error;
            foreach (var state in _streams.Values)
            {
                state.Done.TrySetException(error);
            }

            _streams.Clear();
            SignalWindowChanged();
        }

        _settingsReceived.TrySetException(error);
    }

    private void ThrowIfFailed()
    {
        if (_failure is not null)
        {
            throw new IOException("the connection failed", _failure);
        }
    }

    private async Task SendControlAsync(byte type, byte flags, int streamId, ReadOnlyMemory<byte> payload)
    {
        var frame = new ArrayBufferWriter<byte>(9 + payload.Length);
        WriteFrame(frame, type, flags, streamId, payload.Span);
        await _writeLock.WaitAsync(_stop.Token);
        try
        {
            await _stream.WriteAsync(frame.WrittenMemory, _stop.Token);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static byte[] Increment(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }

    private static void WriteFrame(IBufferWriter<byte> output, byte type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        var span = output.GetSpan(9 + payload.Length);
        span[0] = (byte)(payload.Length >> 16);
        span[1] = (byte)(payload.Length >> 8);
        span[2] = (byte)payload.Length;
        span[3] = type;
        span[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(span[5..], streamId);
        payload.CopyTo(span[9..]);
        output.Advance(9 + payload.Length);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _stream.DisposeAsync();
        _socket.Dispose();
        try
        {
            await _reader;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        _writeLock.Dispose();
        _inFlight.Dispose();
    }
}
