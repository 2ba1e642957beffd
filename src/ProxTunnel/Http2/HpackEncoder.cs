namespace ProxTunnel.Http2;

/// <summary>
/// Encodes fields for Kestrel without ever touching its dynamic table: a static index where name and value match,
/// else a literal without indexing (or never-indexed, as the client marked it) with a static name index where the
/// name matches. Strings are sent raw: Kestrel is in-process, so Huffman would only cost time.
/// </summary>
internal static class HpackEncoder
{
    /// <summary>Upper bound of the encoded size of one field.</summary>
    public static int MaxFieldLength(int nameLength, int valueLength) => 1 + 2 * HpackInteger.MaxLength + nameLength + valueLength;

    /// <summary>Writes one field; <paramref name="staticName"/> is the static index of the name when known, 0 to look it up.</summary>
    public static int WriteField(Span<byte> destination, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, int staticName, bool neverIndexed)
    {
        if (staticName == 0)
        {
            staticName = HpackStaticTable.FindName(name);
        }

        if (!neverIndexed)
        {
            var full = HpackStaticTable.FindField(staticName, value);
            if (full != 0)
            {
                return HpackInteger.Write(destination, full, 7, 0x80);
            }
        }

        var pattern = neverIndexed ? (byte)0x10 : (byte)0x00;
        int written;
        if (staticName != 0)
        {
            written = HpackInteger.Write(destination, staticName, 4, pattern);
        }
        else
        {
            destination[0] = pattern;
            written = 1 + WriteString(destination[1..], name);
        }

        return written + WriteString(destination[written..], value);
    }

    private static int WriteString(Span<byte> destination, ReadOnlySpan<byte> value)
    {
        var written = HpackInteger.Write(destination, value.Length, 7, 0x00);
        value.CopyTo(destination[written..]);
        return written + value.Length;
    }
}
