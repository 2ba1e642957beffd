using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using ProxTunnel.Diagnostics;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Http2;

/// <summary>
/// The input Kestrel reads on a TLS tunnel that negotiated <c>h2</c>. It checks the client preface and passes every
/// frame through as slices of the client's own buffers (a frame may be handed out in pieces as it arrives), except
/// HEADERS + CONTINUATION sequences: those are collected whole, HPACK-decoded with this connection's dynamic table,
/// given a rewritten <c>:path</c> and re-encoded for Kestrel without touching Kestrel's dynamic table. A block that cannot
/// be decoded or breaks a limit ends Kestrel's input before any of it; <see cref="GoAwayError"/> then tells the
/// middleware to send GOAWAY once Kestrel is done writing, so the frame never races Kestrel's own output.
/// </summary>
internal sealed class Http2RewritingReader : PipeReader, IDisposable
{
    private readonly Http2Settings _http2;
    private readonly TimeSpan _blockTimeout;
    private readonly ILogger _logger;
    private readonly string _connectionId;
    private readonly PipeReader _source;
    private readonly Http2TargetRewriter _targets;
    private readonly HpackDecoder _decoder;
    private readonly HeaderFieldList _fields;
    private readonly byte[] _priority = new byte[5];

    // The client's bytes from the first one Kestrel has not consumed; held (not advanced in the source) until more
    // bytes are needed.
    private ReadOnlySequence<byte> _buffer;
    private bool _hasBuffer;
    private bool _sourceCompleted;
    private bool _prefaceSeen;

    // Bytes from the start of _buffer that Kestrel may have: whole frames and the part of a frame that has arrived.
    private long _cleared;
    private long _frameRemaining;
    private bool _blockAhead;
    private long _handed;
    private bool _examinedAll;

    // The re-encoded header block handed to Kestrel, and how many client bytes it replaces.
    private byte[]? _blockOut;
    private int _blockOutLength;
    private int _blockOutConsumed;
    private long _blockSourceLength;

    private bool _ended;

    // Armed while a header block is incomplete: it must arrive whole within RequestHeadersTimeout (Slowloris).
    private CancellationTokenSource? _blockTimer;
    private bool _blockTimerArmed;

    public Http2RewritingReader(Http2Settings http2, RewriteSettings settings, string connectionId, PipeReader source, TunnelTarget tunnel)
    {
        _http2 = http2;
        _blockTimeout = settings.RequestHeadersTimeout;
        _logger = settings.Logger;
        _connectionId = connectionId;
        _source = source;
        _targets = new Http2TargetRewriter(settings, tunnel, connectionId);
        _decoder = new HpackDecoder(http2.HeaderTableSize);
        _fields = new HeaderFieldList(http2.MaxHeaderBytes);
    }

    /// <summary>Set when the connection must end with GOAWAY and this error code; nothing of the bad block reached Kestrel.</summary>
    public Http2ErrorCode? GoAwayError { get; private set; }

    /// <summary>The highest stream whose request head Kestrel received: the last stream id of the GOAWAY.</summary>
    public int LastStreamId { get; private set; }

    public override bool TryRead(out ReadResult result)
    {
        // Kestrel's HTTP/2 frame loop reads with ReadAsync; answering "nothing now" is always allowed.
        result = default;
        return false;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => ReadCoreAsync(cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> ReadCoreAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_ended)
            {
                return new ReadResult(default, false, true);
            }

            if (_blockOut is not null)
            {
                // Kestrel examined the whole block without consuming it, which complete frames never cause: let it see
                // the end of input rather than wait forever.
                return new ReadResult(new ReadOnlySequence<byte>(_blockOut, _blockOutConsumed, _blockOutLength - _blockOutConsumed), false, true);
            }

            if (!_hasBuffer)
            {
                ReadResult sourceResult;
                try
                {
                    sourceResult = _blockTimerArmed ? await ReadWithBlockTimeoutAsync(cancellationToken) : await _source.ReadAsync(cancellationToken);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    GoAway(Http2ErrorCode.EnhanceYourCalm, "a header block not completed within RequestHeadersTimeout");
                    _ended = true;
                    return new ReadResult(default, false, true);
                }

                if (sourceResult.IsCanceled)
                {
                    _source.AdvanceTo(sourceResult.Buffer.Start);
                    return new ReadResult(default, true, false);
                }

                _buffer = sourceResult.Buffer;
                _sourceCompleted = sourceResult.IsCompleted;
                _hasBuffer = true;
            }

            var before = _cleared;
            Scan();
            if (GoAwayError is not null)
            {
                End();
                return new ReadResult(default, false, true);
            }

            if (_cleared > 0 && (_cleared > before || !_examinedAll))
            {
                _handed = _cleared;
                _examinedAll = false;
                return new ReadResult(_buffer.Slice(0, _cleared), false, _sourceCompleted && _cleared == _buffer.Length);
            }

            if (_cleared == 0 && _blockAhead)
            {
                var block = await TakeBlockAsync(cancellationToken);
                if (block is { } handed)
                {
                    _blockTimerArmed = false;
                    return handed;
                }

                if (!_blockTimerArmed && GoAwayError is null)
                {
                    ArmBlockTimer();
                }

                if (GoAwayError is not null)
                {
                    End();
                    return new ReadResult(default, false, true);
                }
            }

            if (_sourceCompleted)
            {
                // The client ended; what is left is a part of a frame header or of a header block Kestrel never needs.
                End();
                return new ReadResult(default, false, true);
            }

            _source.AdvanceTo(_buffer.Start, _buffer.End);
            _hasBuffer = false;
        }
    }

    private void ArmBlockTimer()
    {
        if (_blockTimer is null || !_blockTimer.TryReset())
        {
            _blockTimer?.Dispose();
            _blockTimer = new CancellationTokenSource();
        }

        _blockTimer.CancelAfter(_blockTimeout);
        _blockTimerArmed = true;
    }

    private async ValueTask<ReadResult> ReadWithBlockTimeoutAsync(CancellationToken cancellationToken)
    {
        var timer = _blockTimer!.Token;
        using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer) : null;
        return await _source.ReadAsync(linked?.Token ?? timer);
    }

    /// <summary>Extends the cleared region over pass-through frames; stops at a HEADERS frame or where the bytes end.</summary>
    private void Scan()
    {
        var length = _buffer.Length;
        if (!_prefaceSeen)
        {
            var preface = Http2Frame.ClientPreface;
            var available = (int)Math.Min(length, preface.Length);
            Span<byte> probe = stackalloc byte[preface.Length];
            _buffer.Slice(0, available).CopyTo(probe);
            if (!probe[..available].SequenceEqual(preface[..available]))
            {
                GoAway(Http2ErrorCode.ProtocolError, "no HTTP/2 client preface");
                return;
            }

            if (available < preface.Length)
            {
                return;
            }

            _prefaceSeen = true;
            _cleared = preface.Length;
        }

        Span<byte> header = stackalloc byte[Http2Frame.HeaderLength];
        while (!_blockAhead)
        {
            if (_frameRemaining > 0)
            {
                var take = Math.Min(_frameRemaining, length - _cleared);
                _cleared += take;
                _frameRemaining -= take;
                if (_frameRemaining > 0)
                {
                    return;
                }
            }

            if (length - _cleared < Http2Frame.HeaderLength)
            {
                return;
            }

            _buffer.Slice(_cleared, Http2Frame.HeaderLength).CopyTo(header);
            if (header[3] == Http2Frame.TypeHeaders)
            {
                _blockAhead = true;
                return;
            }

            // Everything else, a stray CONTINUATION included, is Kestrel's to judge.
            _frameRemaining = Http2Frame.HeaderLength + Http2Frame.PayloadLength(header);
        }
    }

    /// <summary>
    /// Collects the header block at the start of the buffer. Returns what Kestrel gets, or null when more bytes are
    /// needed or the connection must end (<see cref="GoAwayError"/> set). Limits are checked on each frame header as
    /// soon as it arrives, so a flood is stopped before its payload is buffered.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult?> TakeBlockAsync(CancellationToken cancellationToken)
    {
        if (!FindBlockEnd(out var streamId, out var blockBytes))
        {
            return null;
        }

        Http2Target target = default;
        try
        {
            if (!DecodeBlock(blockBytes, out var flags, out var priorityLength))
            {
                return null;
            }

            // A HEADERS frame on a new stream opens a request; on a stream already seen it carries trailers.
            if (streamId > LastStreamId)
            {
                target = await _targets.RewriteAsync(_fields, cancellationToken);
                if (target.Buffer is null)
                {
                    GoAway(target.Error, target.Reason!);
                    return null;
                }

                LastStreamId = streamId;
            }

            _blockOut = Http2HeaderBlockWriter.Write(_fields, target.Path, flags, _priority.AsSpan(0, priorityLength), streamId, _http2.MaxFrameSize, out _blockOutLength);
            _blockOutConsumed = 0;
            _blockSourceLength = blockBytes;
            return new ReadResult(new ReadOnlySequence<byte>(_blockOut, 0, _blockOutLength), false, false);
        }
        finally
        {
            if (target.Buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(target.Buffer);
            }

            _fields.Release();
        }
    }

    /// <summary>Walks HEADERS and its CONTINUATION frames. False when they are incomplete or break a rule (then
    /// <see cref="GoAwayError"/> is set). <paramref name="sourceLength"/> is the client bytes the sequence takes.</summary>
    private bool FindBlockEnd(out int streamId, out long sourceLength)
    {
        Span<byte> header = stackalloc byte[Http2Frame.HeaderLength];
        streamId = 0;
        sourceLength = 0;
        long payloads = 0;
        for (var frame = 0; ; frame++)
        {
            if (_buffer.Length - sourceLength < Http2Frame.HeaderLength)
            {
                return false;
            }

            _buffer.Slice(sourceLength, Http2Frame.HeaderLength).CopyTo(header);
            var length = Http2Frame.PayloadLength(header);
            if (frame == 0)
            {
                streamId = Http2Frame.StreamId(header);
                if (streamId == 0)
                {
                    return GoAway(Http2ErrorCode.ProtocolError, "HEADERS on stream 0");
                }
            }
            else if (header[3] != Http2Frame.TypeContinuation || Http2Frame.StreamId(header) != streamId)
            {
                return GoAway(Http2ErrorCode.ProtocolError, "a header block interrupted before END_HEADERS");
            }

            if (length > _http2.MaxFrameSize)
            {
                return GoAway(Http2ErrorCode.FrameSizeError, "a header frame larger than SETTINGS_MAX_FRAME_SIZE");
            }

            payloads += length;
            if (frame > _http2.MaxContinuationFrames || payloads > _http2.MaxBlockBytes)
            {
                return GoAway(Http2ErrorCode.EnhanceYourCalm, frame > _http2.MaxContinuationFrames ? "too many CONTINUATION frames" : "header block too large");
            }

            sourceLength += Http2Frame.HeaderLength + length;
            if ((header[4] & Http2Frame.FlagEndHeaders) != 0)
            {
                return _buffer.Length >= sourceLength;
            }
        }
    }

    /// <summary>
    /// Decodes the header block whose frames take the first <paramref name="sourceLength"/> bytes into the field list.
    /// A block in one frame that sits in one buffer segment (the common case) is decoded where it lies; otherwise the
    /// frames are copied out and the fragments joined. False when the connection must end (<see cref="GoAwayError"/> set).
    /// </summary>
    private bool DecodeBlock(long sourceLength, out byte flags, out int priorityLength)
    {
        flags = 0;
        priorityLength = 0;
        byte[]? linear = null;
        byte[]? joined = null;
        try
        {
            ReadOnlySpan<byte> source;
            if (_buffer.FirstSpan.Length >= sourceLength)
            {
                source = _buffer.FirstSpan[..(int)sourceLength];
            }
            else
            {
                linear = ArrayPool<byte>.Shared.Rent((int)sourceLength);
                _buffer.Slice(0, sourceLength).CopyTo(linear);
                source = linear.AsSpan(0, (int)sourceLength);
            }

            flags = source[4];
            var length = Http2Frame.PayloadLength(source);
            var payload = source.Slice(Http2Frame.HeaderLength, length);
            var skip = 0;
            var padding = 0;
            if ((flags & Http2Frame.FlagPadded) != 0)
            {
                padding = length < 1 ? int.MaxValue : payload[0];
                skip = 1;
            }

            if ((flags & Http2Frame.FlagPriority) != 0 && length >= skip + 5)
            {
                payload.Slice(skip, 5).CopyTo(_priority);
                priorityLength = 5;
                skip += 5;
            }

            if ((flags & Http2Frame.FlagPriority) != 0 && priorityLength == 0 || padding > length - skip)
            {
                return GoAway(Http2ErrorCode.ProtocolError, "invalid padding or priority in HEADERS");
            }

            var block = payload.Slice(skip, length - skip - padding);
            if ((flags & Http2Frame.FlagEndHeaders) == 0)
            {
                joined = ArrayPool<byte>.Shared.Rent((int)sourceLength);
                block.CopyTo(joined);
                var written = block.Length;
                var rest = source[(Http2Frame.HeaderLength + length)..];
                while (!rest.IsEmpty)
                {
                    var continuation = Http2Frame.PayloadLength(rest);
                    rest.Slice(Http2Frame.HeaderLength, continuation).CopyTo(joined.AsSpan(written));
                    written += continuation;
                    rest = rest[(Http2Frame.HeaderLength + continuation)..];
                }

                block = joined.AsSpan(0, written);
            }

            var status = _decoder.Decode(block, _fields);
            return status == HpackStatus.Ok || GoAway(status == HpackStatus.TooLarge ? Http2ErrorCode.EnhanceYourCalm : Http2ErrorCode.CompressionError, status switch
            {
                HpackStatus.TooLarge => "header block larger than MaxRequestHeadersTotalSize",
                HpackStatus.TableSizeTooLarge => "dynamic table size update above the advertised size",
                _ => "undecodable header block",
            });
        }
        finally
        {
            if (linear is not null)
            {
                ArrayPool<byte>.Shared.Return(linear);
            }

            if (joined is not null)
            {
                ArrayPool<byte>.Shared.Return(joined);
            }
        }
    }

    private bool GoAway(Http2ErrorCode error, string reason)
    {
        GoAwayError = error;
        ProxyTunnelMetrics.BadRequests.Add(1);
        Http2Log.GoingAway(_logger, _connectionId, error, reason);
        return false;
    }

    private void End()
    {
        _ended = true;
        if (_hasBuffer)
        {
            _source.AdvanceTo(_buffer.End);
            _hasBuffer = false;
        }
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (_blockOut is not null)
        {
            var offset = ReferenceEquals(consumed.GetObject(), _blockOut) ? consumed.GetInteger() : _blockOutConsumed;
            if (offset < _blockOutLength)
            {
                _blockOutConsumed = offset;
                return;
            }

            ArrayPool<byte>.Shared.Return(_blockOut);
            _blockOut = null;
            _buffer = _buffer.Slice(_blockSourceLength);
            _blockAhead = false;
            _examinedAll = false;
            return;
        }

        if (!_hasBuffer || _ended || consumed.GetObject() is null)
        {
            return;
        }

        var consumedBytes = _buffer.Slice(0, consumed).Length;
        _examinedAll = _buffer.Slice(0, examined).Length >= _handed;
        _buffer = _buffer.Slice(consumed);
        _cleared -= consumedBytes;
        _handed -= consumedBytes;
    }

    public override void CancelPendingRead() => _source.CancelPendingRead();

    public override void Complete(Exception? exception = null)
    {
        // Kestrel completes its input when it is done; the middleware owns the real transport.
        if (_blockOut is not null)
        {
            ArrayPool<byte>.Shared.Return(_blockOut);
            _blockOut = null;
        }

        if (_hasBuffer)
        {
            _source.AdvanceTo(_buffer.Start);
            _hasBuffer = false;
        }

        _ended = true;
    }

    public void Dispose()
    {
        _decoder.Dispose();
        _blockTimer?.Dispose();
    }
}
