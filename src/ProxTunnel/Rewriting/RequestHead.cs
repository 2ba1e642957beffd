using System.Buffers;
using System.Text;

namespace ProxTunnel.Rewriting;

/// <summary>
/// The parsed form of one request head: offsets into the buffer it was parsed from plus the framing facts.
/// One instance per pooled request state of the reader, reset for every head, so parsing allocates nothing. Its line
/// tables are rented per head and given back by <see cref="Release"/>; an idle connection holds neither (issue 13.1).
/// </summary>
internal sealed class RequestHead
{
    public const int MaxHeaderCount = 100;
    private const int InitialLines = 16;

    private HeaderLine[] _lines = [];
    private int[] _lineEnds = [];
    private int _lineEndCount;

    // What FindHeadEnd saw while recording the line ends: a byte that needs Parse's own look (see FoundEnd).
    private bool _oddBytesSeen;
    private bool _linesVouched;

    public int MethodLength;
    public int TargetStart;
    public int TargetLength;
    public int RequestLineEnd;
    public int LineCount;

    /// <summary>-1 when absent.</summary>
    public long ContentLength;
    public int HostLine;

    // The framing facts as bits of one byte.
    private Facts _facts;

    [Flags]
    private enum Facts : byte
    {
        None = 0,
        Http10 = 1,
        Connect = 2,
        TransferEncoding = 4,
        Chunked = 8,
        Upgrade = 16,
        KeepAlive = 32,
    }

    public bool IsHttp10 { get => Has(Facts.Http10); set => Set(Facts.Http10, value); }

    public bool IsConnect { get => Has(Facts.Connect); set => Set(Facts.Connect, value); }

    public bool HasTransferEncoding { get => Has(Facts.TransferEncoding); set => Set(Facts.TransferEncoding, value); }

    public bool IsChunked { get => Has(Facts.Chunked); set => Set(Facts.Chunked, value); }

    public bool ConnectionUpgrade { get => Has(Facts.Upgrade); set => Set(Facts.Upgrade, value); }

    /// <summary><c>Connection: keep-alive</c> was sent (what an HTTP/1.0 client asks for persistence with).</summary>
    public bool ConnectionKeepAlive { get => Has(Facts.KeepAlive); set => Set(Facts.KeepAlive, value); }

    /// <summary>The first line marked <see cref="HeaderLine.Remove"/> (-1 when none) and how many are.</summary>
    public int FirstRemoved;
    public int RemovedCount;

    public ReadOnlySpan<HeaderLine> Lines => _lines.AsSpan(0, LineCount);

    public bool HasBody => IsChunked || ContentLength > 0;

    public void Reset()
    {
        MethodLength = TargetStart = TargetLength = RequestLineEnd = 0;
        IsHttp10 = IsConnect = false;
        ResetHeaderFacts();
    }

    /// <summary>Forgets what the header lines said (a parse of them starts over).</summary>
    public void ResetHeaderFacts()
    {
        LineCount = 0;
        _facts &= Facts.Http10 | Facts.Connect;
        ContentLength = -1;
        HostLine = -1;
        FirstRemoved = -1;
        RemovedCount = 0;
    }

    /// <summary>Forgets the line ends recorded for the previous head.</summary>
    public void ClearLineEnds()
    {
        _lineEndCount = 0;
        _oddBytesSeen = false;
        _linesVouched = false;
    }

    /// <summary>The bytes scanned for the line ends hold a control byte other than HT and CR LF pairs, or were not all
    /// looked at that way.</summary>
    public void SawOddBytes() => _oddBytesSeen = true;

    /// <summary>The head's end is found: when <paramref name="clean"/> (and no odd byte was seen before), the recorded
    /// line ends are all of its lines and no byte but HT and CR LF pairs is a control byte.</summary>
    public void FoundEnd(bool clean) => _linesVouched = clean && !_oddBytesSeen;

    /// <summary>Whether <see cref="FoundEnd"/> vouched for the recorded lines; once: the next parse must earn it again.</summary>
    public bool TakeLinesVouched()
    {
        var vouched = _linesVouched;
        _linesVouched = false;
        return vouched;
    }

    /// <summary>Records where the next header line ends (the offset of its LF).</summary>
    public void RecordLineEnd(int lf)
    {
        if (_lineEndCount == MaxHeaderCount + 1)
        {
            return;
        }

        if (_lineEndCount == _lineEnds.Length)
        {
            Grow(ref _lineEnds, _lineEndCount);
        }

        _lineEnds[_lineEndCount++] = lf;
    }

    /// <summary>Room for every line end a head may have and one more, to be filled from <see cref="RecordedLineEnds"/>'s
    /// length on; <see cref="SetLineEndCount"/> then says how many are filled.</summary>
    public Span<int> LineEndRoom()
    {
        if (_lineEnds.Length <= MaxHeaderCount)
        {
            Grow(ref _lineEnds, _lineEndCount, MaxHeaderCount + 1);
        }

        return _lineEnds.AsSpan(0, MaxHeaderCount + 1);
    }

    public void SetLineEndCount(int count) => _lineEndCount = count;

    /// <summary>The LF offsets recorded by <see cref="RecordLineEnd"/> since <see cref="ClearLineEnds"/>.</summary>
    public ReadOnlySpan<int> RecordedLineEnds => _lineEnds.AsSpan(0, _lineEndCount);

    /// <summary>Room for <paramref name="count"/> lines, to be filled in order (setting <see cref="LineCount"/>); the
    /// lines parsed before are gone.</summary>
    public Span<HeaderLine> LineTable(int count)
    {
        LineCount = 0;
        if (count > _lines.Length)
        {
            var larger = ArrayPool<HeaderLine>.Shared.Rent(Math.Max(InitialLines, count));
            if (_lines.Length > 0)
            {
                ArrayPool<HeaderLine>.Shared.Return(_lines);
            }

            _lines = larger;
        }

        return _lines.AsSpan(0, count);
    }

    public bool HoldsTables => _lines.Length > 0 || _lineEnds.Length > 0;

    /// <summary>Gives the line tables back to the pool once the head has been handled; the parsed lines are gone.</summary>
    public void Release()
    {
        LineCount = 0;
        _lineEndCount = 0;
        if (_lines.Length > 0)
        {
            ArrayPool<HeaderLine>.Shared.Return(_lines);
            _lines = [];
        }

        if (_lineEnds.Length > 0)
        {
            ArrayPool<int>.Shared.Return(_lineEnds);
            _lineEnds = [];
        }
    }

    private bool Has(Facts fact) => (_facts & fact) != 0;

    private void Set(Facts fact, bool value) => _facts = value ? _facts | fact : _facts & ~fact;

    private static void Grow<T>(ref T[] array, int used, int atLeast = 0)
    {
        var larger = ArrayPool<T>.Shared.Rent(Math.Max(Math.Max(InitialLines, array.Length * 2), atLeast));
        array.AsSpan(0, used).CopyTo(larger);
        if (array.Length > 0)
        {
            ArrayPool<T>.Shared.Return(array);
        }

        array = larger;
    }

    public static ReadOnlySpan<byte> Name(ReadOnlySpan<byte> head, in HeaderLine line) => head.Slice(line.Start, line.NameLength);

    /// <summary>The line's value as sent: from just past the colon to the CR LF, white space around it included.</summary>
    public static ReadOnlySpan<byte> RawValue(ReadOnlySpan<byte> head, scoped in HeaderLine line)
        => head[(line.Start + line.NameLength + 1)..(line.End - 2)];

    /// <summary>The line's value without the white space around it.</summary>
    public static ReadOnlySpan<byte> Value(ReadOnlySpan<byte> head, scoped in HeaderLine line) => HttpChars.TrimOws(RawValue(head, line));

    public ReadOnlySpan<byte> Method(ReadOnlySpan<byte> head) => head[..MethodLength];

    public ReadOnlySpan<byte> Target(ReadOnlySpan<byte> head) => head.Slice(TargetStart, TargetLength);

    /// <summary>The value of the first header called <paramref name="name"/> (ASCII, case-insensitive), or null. Allocates: not for the hot path.</summary>
    public string? GetHeader(ReadOnlySpan<byte> head, string name)
    {
        foreach (ref readonly var line in Lines)
        {
            if (Ascii.EqualsIgnoreCase(Name(head, line), name))
            {
                return Encoding.Latin1.GetString(Value(head, line));
            }
        }

        return null;
    }

    /// <summary>Every header as a dictionary, repeated names joined with <c>, </c>. Allocates: not for the hot path.</summary>
    public Dictionary<string, string> ToDictionary(ReadOnlySpan<byte> head)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (ref readonly var line in Lines)
        {
            var name = Encoding.Latin1.GetString(Name(head, line));
            var value = Encoding.Latin1.GetString(Value(head, line));
            headers[name] = headers.TryGetValue(name, out var existing) ? existing + ", " + value : value;
        }

        return headers;
    }
}
