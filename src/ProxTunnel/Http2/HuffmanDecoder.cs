namespace ProxTunnel.Http2;

/// <summary>
/// Decodes HPACK Huffman strings four bits at a time through a state table built once from <see cref="HuffmanCodes"/>:
/// each state is a node of the code tree, and each nibble moves to the next node, emitting at most one symbol (the
/// shortest code has five bits). Rejects EOS inside a string and padding that is longer than 7 bits or not all ones.
/// </summary>
internal static class HuffmanDecoder
{
    private const int Symbols = 257;
    private const int Eos = 256;

    // Per (state * 16 + nibble): next state, the symbol emitted (or -1), and whether the nibble hit EOS or a dead end.
    private static readonly ushort[] NextState;
    private static readonly short[] Emitted;
    private static readonly bool[] Failed;

    // Per state: true when the bits since the last symbol may end the string (at most 7 bits, all ones).
    private static readonly bool[] Accepting;

    static HuffmanDecoder()
    {
        // Build the code tree: children[node * 2 + bit] is an internal node (> 0), a leaf (-(symbol + 1)), or 0 (none).
        var children = new int[Symbols * 2 * 2];
        var depth = new int[Symbols * 2];
        var allOnes = new bool[Symbols * 2];
        allOnes[0] = true;
        var nodes = 1;
        var codes = HuffmanCodes.Codes;
        var lengths = HuffmanCodes.Lengths;
        for (var symbol = 0; symbol < Symbols; symbol++)
        {
            var node = 0;
            for (var bit = lengths[symbol] - 1; bit >= 0; bit--)
            {
                var b = (int)(codes[symbol] >> bit) & 1;
                if (bit == 0)
                {
                    children[node * 2 + b] = -(symbol + 1);
                    break;
                }

                if (children[node * 2 + b] == 0)
                {
                    depth[nodes] = depth[node] + 1;
                    allOnes[nodes] = allOnes[node] && b == 1;
                    children[node * 2 + b] = nodes++;
                }

                node = children[node * 2 + b];
            }
        }

        NextState = new ushort[nodes * 16];
        Emitted = new short[nodes * 16];
        Failed = new bool[nodes * 16];
        Accepting = new bool[nodes];
        for (var state = 0; state < nodes; state++)
        {
            Accepting[state] = state == 0 || depth[state] <= 7 && allOnes[state];
            for (var nibble = 0; nibble < 16; nibble++)
            {
                var node = state;
                short symbol = -1;
                var failed = false;
                for (var bit = 3; bit >= 0; bit--)
                {
                    var child = children[node * 2 + ((nibble >> bit) & 1)];
                    if (child > 0)
                    {
                        node = child;
                        continue;
                    }

                    var leaf = -child - 1;
                    if (child == 0 || leaf == Eos)
                    {
                        failed = true;
                        break;
                    }

                    symbol = (short)leaf;
                    node = 0;
                }

                var at = state * 16 + nibble;
                NextState[at] = (ushort)node;
                Emitted[at] = symbol;
                Failed[at] = failed;
            }
        }
    }

    /// <summary>Decodes <paramref name="source"/> into <paramref name="destination"/>; returns the length, -1 when the
    /// string is malformed, -2 when it does not fit.</summary>
    public static int Decode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var state = 0;
        var written = 0;
        foreach (var b in source)
        {
            var status = Step(ref state, b >> 4, destination, ref written);
            if (status == 0)
            {
                status = Step(ref state, b & 0xF, destination, ref written);
            }

            if (status != 0)
            {
                return status;
            }
        }

        return Accepting[state] ? written : -1;
    }

    private static int Step(ref int state, int nibble, Span<byte> destination, ref int written)
    {
        var at = state * 16 + nibble;
        if (Failed[at])
        {
            return -1;
        }

        if (Emitted[at] >= 0)
        {
            if (written == destination.Length)
            {
                return -2;
            }

            destination[written++] = (byte)Emitted[at];
        }

        state = NextState[at];
        return 0;
    }
}
