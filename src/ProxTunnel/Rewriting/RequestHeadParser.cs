using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;

namespace ProxTunnel.Rewriting;

/// <summary>
/// Finds and validates request heads per RFC 9112, at least as strictly as Kestrel: anything Kestrel might frame
/// differently from us is refused, so the next head is always where both of us think it is.
/// </summary>
internal static class RequestHeadParser
{
    /// <summary>
    /// Scans <paramref name="data"/> (which starts at the head) for the empty line ending it. Resumable:
    /// <paramref name="lineStart"/> (the start of the first line not yet complete) and <paramref name="requestLineEnd"/>
    /// carry the progress of earlier calls on a prefix of the same bytes.
    /// Returns the head length, 0 when more bytes are needed, or -1 with <paramref name="reason"/> set. When given,
    /// <paramref name="lineEnds"/> records where each header line ends, so <see cref="Parse"/> need not look again.
    /// </summary>
    public static int FindHeadEnd(ReadOnlySpan<byte> data, ref int lineStart, ref int requestLineEnd, int maxRequestLine, int maxHeaders,
        out RejectReason reason, RequestHead? lineEnds = null)
    {
        reason = RejectReason.None;
        if (lineStart == 0)
        {
            lineEnds?.ClearLineEnds();
        }

        var pos = lineStart;
        if (Vector256.IsHardwareAccelerated && data.Length >= Vector256<byte>.Count)
        {
            return ScanVectors(data, ref lineStart, ref requestLineEnd, maxRequestLine, maxHeaders, out reason, lineEnds);
        }

        lineEnds?.SawOddBytes();
        while (true)
        {
            var lf = data[pos..].IndexOf(HttpChars.LF);
            if (lf < 0)
            {
                return NoHeadEnd(data.Length, requestLineEnd, maxRequestLine, maxHeaders, out reason);
            }

            lf += pos;
            pos = lf + 1;
            var step = LineEnd(data, lf, ref lineStart, ref requestLineEnd, maxRequestLine, maxHeaders, out reason, lineEnds);
            if (step != 0)
            {
                return step;
            }
        }
    }

    /// <summary>
    /// <see cref="FindHeadEnd"/> over at least one vector's bytes: one pass, a vector at a time, every LF in it handled
    /// from a bit mask rather than one search per line (issue 13.3), the progress kept in locals until it returns. The
    /// same vectors count the control bytes: a clean head has two per line (CR LF) and no other but HT, so Parse need
    /// not look at the header block again. The last vector overlaps bytes already seen (their bits are dropped).
    /// </summary>
    private static int ScanVectors(ReadOnlySpan<byte> data, ref int lineStart, ref int requestLineEnd, int maxRequestLine, int maxHeaders,
        out RejectReason reason, RequestHead? lineEnds)
    {
        reason = RejectReason.None;
        ref var origin = ref MemoryMarshal.GetReference(data);
        var start = lineStart;
        var ends = lineEnds is null ? default : lineEnds.LineEndRoom();
        var count = lineEnds is null ? 0 : lineEnds.RecordedLineEnds.Length;

        // Where the header lines may end at most, once the request line is found (0 before): the one bound the loop
        // keeps besides its position, so the rest stays in registers.
        var headerLimit = requestLineEnd == 0 ? 0 : requestLineEnd + maxHeaders;

        // Control bytes less two per LF since this call began (an LF without its CR is refused, so each LF accounts for
        // two distinct ones): 0 at the head's end means no other control byte.
        var surplus = 0;
        var result = 0;
        var pos = start;
        while (pos < data.Length)
        {
            var at = Math.Min(pos, data.Length - Vector256<byte>.Count);
            var bytes = Vector256.LoadUnsafe(ref origin, (nuint)at);
            var lineFeeds = Vector256.Equals(bytes, Vector256.Create(HttpChars.LF)).ExtractMostSignificantBits();
            var controls = Controls(bytes);
            if (at < pos)
            {
                var unseen = ~((1u << (pos - at)) - 1);
                lineFeeds &= unseen;
                controls &= unseen;
            }

            surplus += BitOperations.PopCount(controls);
            while (lineFeeds != 0)
            {
                var bit = BitOperations.TrailingZeroCount(lineFeeds);
                lineFeeds &= lineFeeds - 1;
                var lf = at + bit;
                var lineBegin = start;
                start = lf + 1;
                surplus -= 2;
                if (lf == 0 || Unsafe.Add(ref origin, lf - 1) != HttpChars.CR)
                {
                    reason = RejectReason.BareLineFeed;
                    result = -1;
                    goto Done;
                }

                if (headerLimit == 0)
                {
                    if (lf + 1 > maxRequestLine)
                    {
                        reason = RejectReason.RequestLineTooLong;
                        result = -1;
                        goto Done;
                    }

                    headerLimit = lf + 1 + maxHeaders;
                    continue;
                }

                if (lf + 1 > headerLimit)
                {
                    reason = RejectReason.HeadersTooLarge;
                    result = -1;
                    goto Done;
                }

                if (lf - 1 == lineBegin)
                {
                    // Only the head's own bytes count: what follows its end is body or the next request.
                    result = lf + 1;
                    var after = ~(uint)((2ul << bit) - 1);
                    lineEnds?.FoundEnd(surplus - BitOperations.PopCount(Controls(Vector256.LoadUnsafe(ref origin, (nuint)at)) & after) == 0);
                    goto Done;
                }

                // One more than a head may have at most is kept, so Parse can tell there were too many.
                if ((uint)count < (uint)ends.Length)
                {
                    ends[count++] = lf;
                }
            }

            pos = at + Vector256<byte>.Count;
        }

        // A head in pieces: Parse looks at its bytes itself.
        lineEnds?.SawOddBytes();
        result = NoHeadEnd(data.Length, headerLimit == 0 ? 0 : headerLimit - maxHeaders, maxRequestLine, maxHeaders, out reason);

    Done:
        lineStart = start;
        requestLineEnd = headerLimit == 0 ? 0 : headerLimit - maxHeaders;
        lineEnds?.SetLineEndCount(count);
        return result;
    }

    /// <summary>The control bytes of <paramref name="bytes"/> but HT, and DEL, as a bit mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Controls(Vector256<byte> bytes)
        => (Vector256.LessThan(bytes, Vector256.Create((byte)0x20)) & ~Vector256.Equals(bytes, Vector256.Create(HttpChars.HT))
            | Vector256.Equals(bytes, Vector256.Create((byte)0x7F))).ExtractMostSignificantBits();

    /// <summary><see cref="FindHeadEnd"/> without an end in <paramref name="length"/> bytes: 0 to wait for more, or -1
    /// with <paramref name="reason"/> when the head is too long already.</summary>
    private static int NoHeadEnd(int length, int requestLineEnd, int maxRequestLine, int maxHeaders, out RejectReason reason)
    {
        reason = RejectReason.None;
        if (requestLineEnd == 0 && length >= maxRequestLine)
        {
            reason = RejectReason.RequestLineTooLong;
            return -1;
        }

        if (requestLineEnd > 0 && length - requestLineEnd > maxHeaders)
        {
            reason = RejectReason.HeadersTooLarge;
            return -1;
        }

        return 0;
    }

    /// <summary>One LF of <see cref="FindHeadEnd"/>: 0 to go on, the head length at the empty line, or -1 with <paramref name="reason"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int LineEnd(ReadOnlySpan<byte> data, int lf, ref int lineStart, ref int requestLineEnd, int maxRequestLine, int maxHeaders,
        out RejectReason reason, RequestHead? lineEnds)
    {
        reason = RejectReason.None;
        var start = lineStart;
        lineStart = lf + 1;
        if (lf == 0 || data[lf - 1] != HttpChars.CR)
        {
            reason = RejectReason.BareLineFeed;
            return -1;
        }

        if (requestLineEnd == 0)
        {
            if (lf + 1 > maxRequestLine)
            {
                reason = RejectReason.RequestLineTooLong;
                return -1;
            }

            requestLineEnd = lf + 1;
            return 0;
        }

        if (lf + 1 - requestLineEnd > maxHeaders)
        {
            reason = RejectReason.HeadersTooLarge;
            return -1;
        }

        if (lf - 1 == start)
        {
            return lf + 1;
        }

        lineEnds?.RecordLineEnd(lf);
        return 0;
    }

    /// <summary>Parses a complete head (as found by <see cref="FindHeadEnd"/>) into <paramref name="result"/>.</summary>
    public static RejectReason Parse(ReadOnlySpan<byte> head, int requestLineEnd, RequestHead result)
    {
        var vouched = result.TakeLinesVouched();
        result.Reset();
        result.RequestLineEnd = requestLineEnd;

        var reason = ParseRequestLine(head[..(requestLineEnd - 2)], result);
        if (reason != RejectReason.None)
        {
            return reason;
        }

        var pos = requestLineEnd;
        var end = head.Length - 2;
        var ends = result.RecordedLineEnds;
        if (vouched && (pos == end ? ends.IsEmpty : !ends.IsEmpty && ends[^1] == end - 1))
        {
            // FindHeadEnd found this head's lines and saw no control byte but HT and CR LF pairs in it: nothing to
            // look at again.
            reason = ends.Length <= RequestHead.MaxHeaderCount
                ? ParseVouchedLines(head, pos, ends, result)
                : ParseHeaderLines(head, pos, ends, valuesClean: true, trusted: true, result, out _);
        }
        else
        {
            // One vectorized look at the whole header block: with no control byte but the CR LF line ends (FindHeadEnd
            // saw to every LF having its CR), no value needs a scan of its own; a block that fails is checked line by line.
            var block = head[pos..end];
            var valuesClean = !block.ContainsAny(HttpChars.InvalidFieldValueButLineEnds) && block.Count(HttpChars.CR) == block.Count(HttpChars.LF);

            // FindHeadEnd recorded where every line ends; when it was not asked to (or they are not this head's), find them now.
            if (pos < end && (ends.IsEmpty || ends[0] <= pos || ends[^1] != end - 1))
            {
                ends = RecordLineEnds(head, pos, end, result);
            }

            reason = ParseHeaderLines(head, pos, ends, valuesClean, trusted: false, result, out var stale);
            if (stale)
            {
                reason = ParseHeaderLines(head, pos, RecordLineEnds(head, pos, end, result), valuesClean, trusted: false, result, out _);
            }
        }

        if (reason != RejectReason.None)
        {
            return reason;
        }

        if (result.HasTransferEncoding)
        {
            if (result.ContentLength >= 0)
            {
                return RejectReason.ContentLengthWithTransferEncoding;
            }

            if (result.IsHttp10)
            {
                return RejectReason.TransferEncodingInHttp10;
            }

            if (!result.IsChunked)
            {
                return RejectReason.UnsupportedTransferEncoding;
            }
        }

        // Kestrel refuses upgrade requests with a body; refusing them here too keeps the two in step.
        if (result.ConnectionUpgrade && (result.IsChunked || result.ContentLength > 0))
        {
            return RejectReason.UpgradeWithBody;
        }

        return RejectReason.None;
    }

    /// <summary>
    /// The header lines of a head <see cref="FindHeadEnd"/> vouched for (its line ends, at most
    /// <see cref="RequestHead.MaxHeaderCount"/>; no control byte but HT and CR LF pairs): per line one vector for the
    /// name and the value's white space trimmed, nothing else looked at. A line whose name that vector cannot settle
    /// goes through <see cref="ParseHeaderLine"/>.
    /// </summary>
    private static RejectReason ParseVouchedLines(ReadOnlySpan<byte> head, int pos, ReadOnlySpan<int> ends, RequestHead result)
    {
        var lines = result.LineTable(ends.Length);
        ref var origin = ref MemoryMarshal.GetReference(head);
        var lastVector = head.Length - Vector256<byte>.Count;
        var chunkedSeen = false;
        var finalCodingChunked = false;
        for (var index = 0; index < ends.Length; index++)
        {
            var lf = ends[index];
            ref var header = ref lines[index];
            var nameLength = Vector256.IsHardwareAccelerated && pos <= lastVector ? NameEnd(Vector256.LoadUnsafe(ref origin, (nuint)pos)) : 0;
            if (nameLength > 0 && pos + nameLength < lf - 1 && Unsafe.Add(ref origin, pos + nameLength) == (byte)':')
            {
                // The value follows from the name and the line's end: RequestHead.Value finds and trims it where it is
                // read (most values never are).
                header.Start = pos;
                header.NameLength = nameLength;
                header.Remove = false;
            }
            else
            {
                var reason = ParseHeaderLine(head, head[pos..(lf - 1)], pos, valueClean: true, ref header);
                if (reason != RejectReason.None)
                {
                    return reason;
                }

                nameLength = header.NameLength;
            }

            header.End = lf + 1;
            if (nameLength < 32 && (FramingNameLengths >> nameLength & 1) != 0 && (FramingInitials >> ((Unsafe.Add(ref origin, pos) | 0x20) & 31) & 1) != 0)
            {
                var reason = ReadFramingHeader(head, head.Slice(pos, nameLength), ref header, index, result, ref chunkedSeen, ref finalCodingChunked);
                if (reason != RejectReason.None)
                {
                    return reason;
                }
            }

            pos = lf + 1;
        }

        result.LineCount = ends.Length;
        return RejectReason.None;
    }

    /// <summary>
    /// The header lines, one per recorded line end (<paramref name="ends"/>: the offset of each line's LF). Unless
    /// <paramref name="trusted"/> (FindHeadEnd vouched for them), sets <paramref name="stale"/> (and returns at once)
    /// when a recorded end is no line end of this head.
    /// </summary>
    private static RejectReason ParseHeaderLines(ReadOnlySpan<byte> head, int pos, ReadOnlySpan<int> ends, bool valuesClean, bool trusted,
        RequestHead result, out bool stale)
    {
        stale = false;
        result.ResetHeaderFacts();
        if (ends.Length > RequestHead.MaxHeaderCount)
        {
            ends = ends[..(RequestHead.MaxHeaderCount + 1)];
        }

        var lines = result.LineTable(Math.Min(ends.Length, RequestHead.MaxHeaderCount));
        var chunkedSeen = false;
        var finalCodingChunked = false;
        for (var index = 0; index < ends.Length; index++)
        {
            var lf = ends[index];
            if (!trusted && (lf <= pos || head[lf] != HttpChars.LF || head[lf - 1] != HttpChars.CR))
            {
                stale = true;
                return RejectReason.None;
            }

            if (index == RequestHead.MaxHeaderCount)
            {
                return RejectReason.TooManyHeaders;
            }

            var line = head[pos..(lf - 1)];
            ref var header = ref lines[index];
            var reason = ParseHeaderLine(head, line, pos, valuesClean, ref header);
            if (reason != RejectReason.None)
            {
                return reason;
            }

            header.End = lf + 1;
            pos = lf + 1;

            // Only a few names matter for framing: their length and first letter rule out nearly every other line
            // before any comparison.
            if (header.NameLength < 32 && (FramingNameLengths >> header.NameLength & 1) != 0 && (FramingInitials >> ((line[0] | 0x20) & 31) & 1) != 0)
            {
                reason = ReadFramingHeader(head, line[..header.NameLength], ref header, index, result, ref chunkedSeen, ref finalCodingChunked);
                if (reason != RejectReason.None)
                {
                    return reason;
                }
            }
        }

        result.LineCount = ends.Length;
        return RejectReason.None;
    }

    private static readonly uint Get = BinaryPrimitives.ReadUInt32LittleEndian("GET "u8);
    private static readonly ulong Http11 = BinaryPrimitives.ReadUInt64LittleEndian("HTTP/1.1"u8);
    private static readonly ulong Http10 = BinaryPrimitives.ReadUInt64LittleEndian("HTTP/1.0"u8);

    /// <summary>The lengths of the names <see cref="ReadFramingHeader"/> looks at, as a bit mask.</summary>
    private const uint FramingNameLengths = 1u << 4 | 1u << 10 | 1u << 14 | 1u << 16 | 1u << 17 | 1u << 19;

    /// <summary>Their first letters (h, c, t, p), as a bit mask of the letter's low five bits.</summary>
    private const uint FramingInitials = 1u << ('h' & 31) | 1u << ('c' & 31) | 1u << ('t' & 31) | 1u << ('p' & 31);

    /// <summary>Reads a header that frames the request or is dropped: Host, Connection, Content-Length, Transfer-Encoding,
    /// Proxy-Connection, Proxy-Authorization (names of the <see cref="FramingNameLengths"/>).</summary>
    private static RejectReason ReadFramingHeader(ReadOnlySpan<byte> head, ReadOnlySpan<byte> name, ref HeaderLine header, int index, RequestHead result,
        ref bool chunkedSeen, ref bool finalCodingChunked)
    {
        // With the white space around it (see HeaderLine): the list readers trim each element themselves.
        var value = RequestHead.RawValue(head, header);
        switch (name.Length)
        {
            case 4 when (name[0] | 0x20) == 'h' && NameIs(name, "host"u8):
                if (result.HostLine >= 0)
                {
                    return RejectReason.MultipleHostHeaders;
                }

                result.HostLine = index;
                break;
            case 10 when (name[0] | 0x20) == 'c' && NameIs(name, "connection"u8):
                if (ListContains(value, "upgrade"u8))
                {
                    result.ConnectionUpgrade = true;
                }

                if (result.IsHttp10 && ListContains(value, "keep-alive"u8))
                {
                    result.ConnectionKeepAlive = true;
                }

                break;
            case 14 when (name[0] | 0x20) == 'c' && NameIs(name, "content-length"u8):
                if (result.ContentLength >= 0)
                {
                    return RejectReason.MultipleContentLengths;
                }

                value = RequestHead.Value(head, header);

                if (value.IsEmpty || value.Length > 18 || value.ContainsAnyExceptInRange((byte)'0', (byte)'9')
                    || !Utf8Parser.TryParse(value, out long length, out var used) || used != value.Length)
                {
                    return RejectReason.InvalidContentLength;
                }

                result.ContentLength = length;
                break;
            case 17 when (name[0] | 0x20) == 't' && NameIs(name, "transfer-encoding"u8):
                result.HasTransferEncoding = true;
                var codings = ParseTransferEncoding(value, ref chunkedSeen, ref finalCodingChunked);
                if (codings != RejectReason.None)
                {
                    return codings;
                }

                result.IsChunked = finalCodingChunked;
                break;
            case 16 when (name[0] | 0x20) == 'p' && NameIs(name, "proxy-connection"u8):
            case 19 when (name[0] | 0x20) == 'p' && NameIs(name, "proxy-authorization"u8):
                header.Remove = true;
                if (result.RemovedCount++ == 0)
                {
                    result.FirstRemoved = index;
                }

                break;
        }

        return RejectReason.None;
    }

    /// <summary>
    /// True when the token <paramref name="name"/> is <paramref name="lower"/> (lower-case letters and <c>-</c>, as long,
    /// at least 4 bytes) in any case, by word compares: a token byte with 0x20 set is its lower-case letter or itself,
    /// and no token byte but a letter or <c>-</c> becomes one so.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool NameIs(ReadOnlySpan<byte> name, ReadOnlySpan<byte> lower)
    {
        if (name.Length < 8)
        {
            return (BinaryPrimitives.ReadUInt32LittleEndian(name) | 0x2020_2020) == BinaryPrimitives.ReadUInt32LittleEndian(lower)
                && (BinaryPrimitives.ReadUInt32LittleEndian(name[^4..]) | 0x2020_2020) == BinaryPrimitives.ReadUInt32LittleEndian(lower[^4..]);
        }

        for (var i = 0; i < name.Length - 8; i += 8)
        {
            if ((BinaryPrimitives.ReadUInt64LittleEndian(name[i..]) | 0x2020_2020_2020_2020) != BinaryPrimitives.ReadUInt64LittleEndian(lower[i..]))
            {
                return false;
            }
        }

        return (BinaryPrimitives.ReadUInt64LittleEndian(name[^8..]) | 0x2020_2020_2020_2020) == BinaryPrimitives.ReadUInt64LittleEndian(lower[^8..]);
    }

    /// <summary>Finds and records the LF of every header line between <paramref name="pos"/> and <paramref name="end"/>
    /// (the final empty line's start), one more than a head may have at most.</summary>
    private static ReadOnlySpan<int> RecordLineEnds(ReadOnlySpan<byte> head, int pos, int end, RequestHead result)
    {
        result.ClearLineEnds();
        for (var count = 0; pos < end && count <= RequestHead.MaxHeaderCount; count++)
        {
            var lf = head[pos..].IndexOf(HttpChars.LF) + pos;
            result.RecordLineEnd(lf);
            pos = lf + 1;
        }

        return result.RecordedLineEnds;
    }

    /// <summary>
    /// Nearly every head: <c>GET &lt;target&gt; HTTP/1.1</c> (or 1.0) with a target of visible ASCII but <c>#</c>, which
    /// <see cref="ParseRequestLine"/> would take exactly so, in a few word compares. False for anything else, which
    /// goes the general way for its verdict.
    /// </summary>
    internal static bool TryParseGetLine(ReadOnlySpan<byte> line, RequestHead result)
    {
        if (line.Length <= 13 || BinaryPrimitives.ReadUInt32LittleEndian(line) != Get || line[^9] != HttpChars.SP)
        {
            return false;
        }

        var version = BinaryPrimitives.ReadUInt64LittleEndian(line[^8..]);
        var target = line[4..^9];
        if (version != Http11 && version != Http10 || HttpChars.HasInvalidTargetByte(target))
        {
            return false;
        }

        result.IsHttp10 = version == Http10;
        result.MethodLength = 3;
        result.TargetStart = 4;
        result.TargetLength = target.Length;
        result.IsConnect = false;
        return true;
    }

    private static RejectReason ParseRequestLine(ReadOnlySpan<byte> line, RequestHead result)
    {
        return TryParseGetLine(line, result) ? RejectReason.None : ParseAnyRequestLine(line, result);
    }

    /// <summary><see cref="ParseRequestLine"/> without the <see cref="TryParseGetLine"/> shortcut.</summary>
    internal static RejectReason ParseAnyRequestLine(ReadOnlySpan<byte> line, RequestHead result)
    {
        var sp1 = line.IndexOf(HttpChars.SP);
        if (sp1 <= 0 || !HttpChars.IsToken(line[..sp1]))
        {
            return RejectReason.InvalidRequestLine;
        }

        var rest = line[(sp1 + 1)..];
        var sp2 = rest.IndexOf(HttpChars.SP);
        if (sp2 <= 0)
        {
            return RejectReason.InvalidRequestLine;
        }

        var target = rest[..sp2];
        var version = rest[(sp2 + 1)..];
        if (HttpChars.HasInvalidTargetByte(target))
        {
            return RejectReason.InvalidRequestLine;
        }

        if (line.StartsWith("PRI "u8))
        {
            // The HTTP/2 preface's method: never let Kestrel see it as a head (it would probe it as h2c prior knowledge).
            return RejectReason.InvalidRequestLine;
        }

        if (version.SequenceEqual("HTTP/1.1"u8))
        {
            result.IsHttp10 = false;
        }
        else if (version.SequenceEqual("HTTP/1.0"u8))
        {
            result.IsHttp10 = true;
        }
        else
        {
            return version.Length == 8 && version.StartsWith("HTTP/"u8) && char.IsAsciiDigit((char)version[5])
                && version[6] == (byte)'.' && char.IsAsciiDigit((char)version[7])
                ? RejectReason.UnsupportedHttpVersion
                : RejectReason.InvalidRequestLine;
        }

        result.MethodLength = sp1;
        result.TargetStart = sp1 + 1;
        result.TargetLength = sp2;
        result.IsConnect = line[..sp1].SequenceEqual("CONNECT"u8);
        return RejectReason.None;
    }

    /// <summary>Parses the header line <paramref name="line"/>, which starts at <paramref name="offset"/> of <paramref name="head"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static RejectReason ParseHeaderLine(ReadOnlySpan<byte> head, ReadOnlySpan<byte> line, int offset, bool valueClean, ref HeaderLine header)
    {
        if (line.IsEmpty)
        {
            return RejectReason.InvalidHeaderLine;
        }

        if (HttpChars.IsOws(line[0]))
        {
            return RejectReason.ObsoleteLineFolding;
        }

        // The first byte that is not a token byte must be the colon, so the name is a token.
        var colon = NameLength(head, offset, line);
        if (colon <= 0 || line[colon] != (byte)':')
        {
            return NameError(line);
        }

        if (!valueClean)
        {
            // White space around the value is no invalid byte, so the value is checked as sent (RequestHead.Value trims it).
            var value = line[(colon + 1)..];
            var bad = value.IndexOfAny(HttpChars.InvalidFieldValue);
            if (bad >= 0)
            {
                return value[bad] == HttpChars.CR ? RejectReason.BareCarriageReturn : RejectReason.InvalidHeaderLine;
            }
        }

        header.Start = offset;
        header.NameLength = colon;
        header.Remove = false;
        return RejectReason.None;
    }

    /// <summary>
    /// Where the first byte of <paramref name="line"/> that is no token byte is, or -1. Nearly every name is letters,
    /// digits and <c>-</c> ending at a colon within 32 bytes: one vector from <paramref name="head"/> (which holds the
    /// line at <paramref name="offset"/>) tells that without a call; any other name goes through the token search.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NameLength(ReadOnlySpan<byte> head, int offset, ReadOnlySpan<byte> line)
    {
        if (Vector256.IsHardwareAccelerated && offset <= head.Length - Vector256<byte>.Count)
        {
            var end = NameEnd(Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(head), (nuint)offset));
            if (end < line.Length && line[end] == (byte)':')
            {
                return end;
            }
        }

        return line.IndexOfAnyExcept(HttpChars.Token);
    }

    /// <summary>How many of the bytes, from the first, are letters, digits or <c>-</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NameEnd(Vector256<byte> bytes)
    {
        var letters = Vector256.LessThan((bytes | Vector256.Create((byte)0x20)) - Vector256.Create((byte)'a'), Vector256.Create((byte)26));
        var digits = Vector256.LessThan(bytes - Vector256.Create((byte)'0'), Vector256.Create((byte)10));
        var named = letters | digits | Vector256.Equals(bytes, Vector256.Create((byte)'-'));
        return BitOperations.TrailingZeroCount(~named.ExtractMostSignificantBits());
    }

    /// <summary>Why a header line without a token name before its colon is refused.</summary>
    private static RejectReason NameError(ReadOnlySpan<byte> line)
    {
        var colon = line.IndexOf((byte)':');
        if (colon <= 0)
        {
            return line.Contains(HttpChars.CR) ? RejectReason.BareCarriageReturn : RejectReason.InvalidHeaderLine;
        }

        var name = line[..colon];
        return HttpChars.IsOws(name[^1]) ? RejectReason.WhitespaceBeforeColon
            : name.Contains(HttpChars.CR) ? RejectReason.BareCarriageReturn
            : RejectReason.InvalidHeaderLine;
    }

    /// <summary>Accepts only codings lists whose last element is <c>chunked</c> and that name <c>chunked</c> once.</summary>
    private static RejectReason ParseTransferEncoding(ReadOnlySpan<byte> value, ref bool chunkedSeen, ref bool finalChunked)
    {
        foreach (var range in value.Split((byte)','))
        {
            var coding = HttpChars.TrimOws(value[range]);
            if (coding.IsEmpty || !HttpChars.IsToken(coding))
            {
                return RejectReason.UnsupportedTransferEncoding;
            }

            if (chunkedSeen)
            {
                // Nothing may follow chunked: the body length could no longer be known.
                return RejectReason.UnsupportedTransferEncoding;
            }

            finalChunked = Ascii.EqualsIgnoreCase(coding, "chunked"u8);
            chunkedSeen = finalChunked;
        }

        return RejectReason.None;
    }

    /// <summary>
    /// How many bytes of empty lines precede the request line. RFC 9112 §2.2: ignore them (some clients send CRLF after
    /// a body). The middleware and the rewriter must agree on this, so both call it.
    /// </summary>
    public static int LeadingEmptyLines(in ReadOnlySequence<byte> buffer)
    {
        var first = buffer.FirstSpan;
        if (first.Length > 0 && first[0] != HttpChars.CR)
        {
            // Nearly every head: no empty line to skip.
            return 0;
        }

        var reader = new SequenceReader<byte>(buffer);
        var skipped = 0;
        while (skipped < 64 && reader.IsNext("\r\n"u8, advancePast: true))
        {
            skipped += 2;
        }

        return skipped;
    }

    /// <summary>True when the comma-separated list holds <paramref name="token"/> (case-insensitive, OWS-trimmed).</summary>
    public static bool ListContains(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
    {
        if (value.Length <= token.Length)
        {
            // No longer than the token: only the token itself holds it.
            return value.Length == token.Length && Ascii.EqualsIgnoreCase(value, token);
        }

        if (!value.Contains((byte)','))
        {
            // One element, as in nearly every Connection header: longer than the token, so only white space around it
            // could make it the token.
            return (HttpChars.IsOws(value[0]) || HttpChars.IsOws(value[^1])) && Ascii.EqualsIgnoreCase(HttpChars.TrimOws(value), token);
        }

        return ElementsContain(value, token);
    }

    // The list's split apart: inlined, its enumerator's frame would be cleared on every call of the one-element case.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool ElementsContain(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
    {
        foreach (var range in value.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(HttpChars.TrimOws(value[range]), token))
            {
                return true;
            }
        }

        return false;
    }
}
