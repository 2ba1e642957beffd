namespace ProxTunnel.Urls;

/// <summary>The WHATWG URL Standard's IPv4 parser: every form a browser accepts (<c>2130706433</c>, <c>0x7f.1</c>,
/// <c>0177.0.0.1</c>, <c>127.1</c>) becomes one 32-bit address, written in dotted decimal.</summary>
internal static class IPv4Literal
{
    /// <summary>WHATWG "ends in a number": the last label is decimal digits or <c>0x</c> hex. Such a host must parse as
    /// IPv4 or it is no host at all (<c>foo.09</c>, <c>1.2.3.4.5</c> are invalid). The caller has dropped one trailing
    /// dot, as the standard's parser does.</summary>
    public static bool EndsInNumber(ReadOnlySpan<byte> host)
    {
        var last = host[(host.LastIndexOf((byte)'.') + 1)..];
        if (last.IsEmpty)
        {
            return false;
        }

        if (!last.ContainsAnyExceptInRange((byte)'0', (byte)'9'))
        {
            return true;
        }

        return last.Length >= 2 && last[0] == (byte)'0' && (last[1] | 0x20) == (byte)'x' && IsHex(last[2..]);
    }

    /// <summary>Parses a lower- or upper-case ASCII host that <see cref="EndsInNumber"/>.</summary>
    public static bool TryParse(ReadOnlySpan<byte> host, out uint address)
    {
        address = 0;
        Span<ulong> numbers = stackalloc ulong[4];
        var count = 0;
        foreach (var range in host.Split((byte)'.'))
        {
            if (count == 4 || !TryParseNumber(host[range], out numbers[count]))
            {
                return false;
            }

            count++;
        }

        for (var i = 0; i < count - 1; i++)
        {
            if (numbers[i] > 255)
            {
                return false;
            }
        }

        var last = numbers[count - 1];
        if (last >= 1UL << (8 * (5 - count)))
        {
            return false;
        }

        ulong value = last;
        for (var i = 0; i < count - 1; i++)
        {
            value += numbers[i] << (8 * (3 - i));
        }

        address = (uint)value;
        return true;
    }

    /// <summary>Writes <c>a.b.c.d</c>; at most 15 bytes.</summary>
    public static int Format(uint address, Span<byte> destination)
    {
        var written = 0;
        for (var shift = 24; shift >= 0; shift -= 8)
        {
            var part = (address >> shift) & 0xFF;
            if (part >= 100)
            {
                destination[written++] = (byte)('0' + part / 100);
            }

            if (part >= 10)
            {
                destination[written++] = (byte)('0' + part / 10 % 10);
            }

            destination[written++] = (byte)('0' + part % 10);
            if (shift > 0)
            {
                destination[written++] = (byte)'.';
            }
        }

        return written;
    }

    private static bool TryParseNumber(ReadOnlySpan<byte> text, out ulong value)
    {
        value = 0;
        if (text.IsEmpty)
        {
            return false;
        }

        var radix = 10u;
        if (text.Length >= 2 && text[0] == (byte)'0' && (text[1] | 0x20) == (byte)'x')
        {
            text = text[2..];
            radix = 16;
        }
        else if (text.Length >= 2 && text[0] == (byte)'0')
        {
            text = text[1..];
            radix = 8;
        }

        foreach (var c in text)
        {
            uint digit = c switch
            {
                >= (byte)'0' and <= (byte)'9' => (uint)(c - '0'),
                >= (byte)'a' and <= (byte)'f' => (uint)(c - 'a' + 10),
                >= (byte)'A' and <= (byte)'F' => (uint)(c - 'A' + 10),
                _ => uint.MaxValue,
            };
            if (digit >= radix)
            {
                return false;
            }

            // Anything above 2^32 is invalid anyway; saturate instead of overflowing on long digit strings.
            value = Math.Min(value * radix + digit, 1UL << 33);
        }

        return true;
    }

    private static bool IsHex(ReadOnlySpan<byte> text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiHexDigit((char)c))
            {
                return false;
            }
        }

        return true;
    }
}
