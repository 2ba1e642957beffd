namespace ProxTunnel.Tests.Http2Clients.Differential;

/// <summary>
/// Reads <c>:status</c> from the start of a response header block without a full HPACK decoder: Kestrel writes the
/// status first, as a static-table index or a literal with the static name <c>:status</c> (index 8), never Huffman-coded.
/// </summary>
internal static class ResponseStatus
{
    /// <summary>Returned when the block does not start that way.</summary>
    public const int Unknown = -1;

    public static int Parse(ReadOnlySpan<byte> block)
    {
        var at = 0;
        for (var updates = 0; updates < 2 && at < block.Length && (block[at] & 0xE0) == 0x20; updates++)
        {
            ReadInteger(block, ref at, 5);
        }

        if (at >= block.Length)
        {
            return Unknown;
        }

        if ((block[at] & 0x80) != 0)
        {
            return ReadInteger(block, ref at, 7) switch
            {
                8 => 200, 9 => 204, 10 => 206, 11 => 304, 12 => 400, 13 => 404, 14 => 500, _ => Unknown,
            };
        }

        var nameIndex = ReadInteger(block, ref at, (block[at] & 0x40) != 0 ? 6 : 4);
        if (nameIndex != 8 || at >= block.Length || (block[at] & 0x80) != 0)
        {
            return Unknown;
        }

        var length = ReadInteger(block, ref at, 7);
        return length == 3 && at + 3 <= block.Length && int.TryParse(block.Slice(at, 3), out var status) ? status : Unknown;
    }

    private static int ReadInteger(ReadOnlySpan<byte> block, ref int at, int prefixBits)
    {
        var max = (1 << prefixBits) - 1;
        var value = block[at++] & max;
        if (value < max)
        {
            return value;
        }

        for (var shift = 0; at < block.Length && shift < 28; shift += 7)
        {
            var next = block[at++];
            value += (next & 0x7F) << shift;
            if ((next & 0x80) == 0)
            {
                break;
            }
        }

        return value;
    }
}
