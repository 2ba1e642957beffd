using System.Buffers;

namespace ProxTunnel.Rewriting;

/// <summary>
/// Walks a chunked body byte by byte (chunk data in bulk) so the reader knows exactly where it ends. Every byte is
/// looked at once; a byte it refuses never reaches Kestrel. Stricter than Kestrel's own chunk parser: no whitespace
/// after the size, no bare CR or LF anywhere, sizes up to 2^31-1 in at most 8 digits, trailers validated like header lines.
/// It also finds the trailer lines the proxy must remove (<c>Proxy-Authorization</c>, <c>Proxy-Connection</c>, SPEC
/// §3.5), as positions in the body, so the reader can hand Kestrel the trailer section without them.
/// </summary>
internal struct ChunkedBodyValidator
{
    private const long MaxChunkSize = int.MaxValue;
    // Kestrel reads at most 8 hex digits (leading zeros included); accepting more would only defer its refusal.
    private const int MaxSizeDigits = 8;
    private const int MaxExtensionLength = 4096;

    private State _state;
    private long _chunkSize;
    private int _lineLength;
    private int _trailerBytes;
    private int _maxTrailerBytes;
    private long _position;
    private long _lineStart;
    private int _nameLength;
    private bool _maybeAuthorization;
    private bool _maybeConnection;
    private bool _removeLine;
    private List<(long Start, long End)>? _removed;

    private enum State : byte
    {
        Size,
        SizeDigits,
        Extension,
        SizeLF,
        Data,
        DataCR,
        DataLF,
        TrailerLineStart,
        TrailerName,
        TrailerValue,
        TrailerLineLF,
        TrailerEndLF,
        Done,
    }

    public readonly bool IsDone => _state == State.Done;

    /// <summary>Body position where the trailer section starts (just after the last chunk's line), or -1 before it.</summary>
    public long TrailerStart { get; private set; }

    /// <summary>Body position just past the last byte accepted.</summary>
    public readonly long Position => _position;

    /// <summary>Trailer lines to remove, as body positions [start, end) in order; null when there are none.</summary>
    public readonly IReadOnlyList<(long Start, long End)>? RemovedTrailers => _removed?.Count > 0 ? _removed : null;

    public void Reset(int maxTrailerBytes)
    {
        var removed = _removed;
        removed?.Clear();
        this = default;
        _removed = removed;
        TrailerStart = -1;
        _maxTrailerBytes = maxTrailerBytes;
    }

    /// <summary>Accepts bytes from <paramref name="data"/>; returns how many belong to the body, stopping at its end or at an error.</summary>
    public long Accept(in ReadOnlySequence<byte> data, out RejectReason reason)
    {
        reason = RejectReason.None;
        long accepted = 0;
        foreach (var memory in data)
        {
            var span = memory.Span;
            var used = Accept(span, out reason);
            accepted += used;
            _position += used;
            if (reason != RejectReason.None || _state == State.Done)
            {
                break;
            }
        }

        return accepted;
    }

    private int Accept(ReadOnlySpan<byte> span, out RejectReason reason)
    {
        reason = RejectReason.None;
        var i = 0;
        while (i < span.Length)
        {
            if (_state == State.Data)
            {
                var take = (int)Math.Min(_chunkSize, span.Length - i);
                i += take;
                _chunkSize -= take;
                if (_chunkSize == 0)
                {
                    _state = State.DataCR;
                }

                continue;
            }

            var b = span[i];
            reason = Step(b, _position + i);
            if (reason != RejectReason.None)
            {
                return i;
            }

            i++;
            if (_state == State.Done)
            {
                return i;
            }
        }

        return i;
    }

    private RejectReason Step(byte b, long at)
    {
        switch (_state)
        {
            case State.Size:
            case State.SizeDigits:
                var digit = HexValue(b);
                if (digit >= 0)
                {
                    if (++_lineLength > MaxSizeDigits)
                    {
                        return RejectReason.InvalidChunkSize;
                    }

                    _chunkSize = (_chunkSize << 4) | (uint)digit;
                    if (_chunkSize > MaxChunkSize)
                    {
                        return RejectReason.InvalidChunkSize;
                    }

                    _state = State.SizeDigits;
                    return RejectReason.None;
                }

                if (_state == State.Size)
                {
                    return RejectReason.InvalidChunkSize;
                }

                if (b == (byte)';')
                {
                    _state = State.Extension;
                    _lineLength = 0;
                    return RejectReason.None;
                }

                if (b == HttpChars.CR)
                {
                    _state = State.SizeLF;
                    return RejectReason.None;
                }

                return RejectReason.InvalidChunkSize;
            case State.Extension:
                if (b == HttpChars.CR)
                {
                    _state = State.SizeLF;
                    return RejectReason.None;
                }

                if ((b < 0x20 && b != HttpChars.HT) || b == 0x7F || ++_lineLength > MaxExtensionLength)
                {
                    return RejectReason.InvalidChunkExtension;
                }

                return RejectReason.None;
            case State.SizeLF:
                if (b != HttpChars.LF)
                {
                    return RejectReason.InvalidChunkSize;
                }

                _lineLength = 0;
                if (_chunkSize == 0)
                {
                    _state = State.TrailerLineStart;
                    TrailerStart = _lineStart = at + 1;
                    return RejectReason.None;
                }

                _state = State.Data;
                return RejectReason.None;
            case State.DataCR:
                if (b != HttpChars.CR)
                {
                    return RejectReason.InvalidChunkTerminator;
                }

                _state = State.DataLF;
                return RejectReason.None;
            case State.DataLF:
                if (b != HttpChars.LF)
                {
                    return RejectReason.InvalidChunkTerminator;
                }

                _state = State.Size;
                _chunkSize = 0;
                _lineLength = 0;
                return RejectReason.None;
            default:
                return StepTrailer(b, at);
        }
    }

    private RejectReason StepTrailer(byte b, long at)
    {
        if (++_trailerBytes > _maxTrailerBytes)
        {
            return RejectReason.HeadersTooLarge;
        }

        switch (_state)
        {
            case State.TrailerLineStart:
                if (b == HttpChars.CR)
                {
                    _state = State.TrailerEndLF;
                    return RejectReason.None;
                }

                if (!HttpChars.Token.Contains(b))
                {
                    return RejectReason.InvalidTrailer;
                }

                _state = State.TrailerName;
                _nameLength = 0;
                _maybeAuthorization = _maybeConnection = true;
                MatchName(b);
                return RejectReason.None;
            case State.TrailerName:
                if (b == (byte)':')
                {
                    _state = State.TrailerValue;
                    _removeLine = (_maybeAuthorization && _nameLength == ProxyAuthorization.Length)
                        || (_maybeConnection && _nameLength == ProxyConnection.Length);
                    return RejectReason.None;
                }

                if (!HttpChars.Token.Contains(b))
                {
                    return RejectReason.InvalidTrailer;
                }

                MatchName(b);
                return RejectReason.None;
            case State.TrailerValue:
                if (b == HttpChars.CR)
                {
                    _state = State.TrailerLineLF;
                    return RejectReason.None;
                }

                return HttpChars.InvalidFieldValue.Contains(b) ? RejectReason.InvalidTrailer : RejectReason.None;
            case State.TrailerLineLF:
                if (b != HttpChars.LF)
                {
                    return RejectReason.InvalidTrailer;
                }

                _state = State.TrailerLineStart;
                if (_removeLine)
                {
                    (_removed ??= []).Add((_lineStart, at + 1));
                    _removeLine = false;
                }

                _lineStart = at + 1;
                return RejectReason.None;
            case State.TrailerEndLF:
                if (b != HttpChars.LF)
                {
                    return RejectReason.InvalidTrailer;
                }

                _state = State.Done;
                return RejectReason.None;
            default:
                return RejectReason.InvalidTrailer;
        }
    }

    private static ReadOnlySpan<byte> ProxyAuthorization => "proxy-authorization"u8;

    private static ReadOnlySpan<byte> ProxyConnection => "proxy-connection"u8;

    /// <summary>Follows the trailer name against the two names the proxy removes, one byte at a time (names may span reads).</summary>
    private void MatchName(byte b)
    {
        var lower = (byte)(b | 0x20);
        var i = _nameLength++;
        _maybeAuthorization &= i < ProxyAuthorization.Length && ProxyAuthorization[i] == lower;
        _maybeConnection &= i < ProxyConnection.Length && ProxyConnection[i] == lower;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
