namespace ProxTunnel.Http2;

/// <summary>HPACK integers with an N-bit prefix (RFC 7541 §5.1).</summary>
internal static class HpackInteger
{
    /// <summary>Reads an integer whose prefix is the low <paramref name="prefixBits"/> bits of <c>source[pos]</c>. False when
    /// it is cut off or larger than 2^28 (no header field or table size comes near that).</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, ref int pos, int prefixBits, out int value)
    {
        var mask = (1 << prefixBits) - 1;
        value = source[pos++] & mask;
        if (value < mask)
        {
            return true;
        }

        for (var shift = 0; shift <= 21; shift += 7)
        {
            if (pos >= source.Length)
            {
                return false;
            }

            var b = source[pos++];
            value += (b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Writes <paramref name="value"/> with an N-bit prefix; <paramref name="pattern"/> holds the bits above the prefix.</summary>
    public static int Write(Span<byte> destination, int value, int prefixBits, byte pattern)
    {
        var mask = (1 << prefixBits) - 1;
        if (value < mask)
        {
            destination[0] = (byte)(pattern | value);
            return 1;
        }

        destination[0] = (byte)(pattern | mask);
        value -= mask;
        var written = 1;
        while (value >= 0x80)
        {
            destination[written++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[written++] = (byte)value;
        return written;
    }

    /// <summary>Bytes <see cref="Write"/> needs at most for a value below 2^28.</summary>
    public const int MaxLength = 5;
}
