using System.Buffers;
using System.Text;

namespace ProxTunnel.Tests.Http2Clients.Differential;

/// <summary>
/// A deliberately varied HPACK encoder (RFC 7541) for the differential test: it keeps a real dynamic table and picks
/// between indexed fields, name references, the three literal kinds and Huffman-coded or raw strings at random (seeded),
/// so a request set exercises table reuse, evictions and size updates. Huffman uses the library's code table: were that
/// table wrong, direct Kestrel (with its own table) would refuse or see other values, and the comparison would show it.
/// Two writers with the same seed fed the same fields write the same bytes.
/// </summary>
internal sealed class HpackWriter
{
    private const int EntryOverhead = 32;
    private readonly List<(string Name, string Value)> _dynamic = [];
    private readonly Random _random;
    private int _size;
    private int _maxSize;

    public HpackWriter(int seed, int maxSize = 4096)
    {
        _random = new Random(seed);
        _maxSize = maxSize;
    }

    /// <summary>Encodes one header block, starting with the given dynamic-table size updates (at most two).</summary>
    public void Encode(IBufferWriter<byte> output, IEnumerable<(string Name, string Value)> fields, IReadOnlyList<int> sizeUpdates)
    {
        foreach (var update in sizeUpdates)
        {
            WriteInteger(output, update, 5, 0x20);
            _maxSize = update;
            Evict();
        }

        foreach (var (name, value) in fields)
        {
            EncodeField(output, name, value);
        }
    }

    private void EncodeField(IBufferWriter<byte> output, string name, string value)
    {
        var (exact, nameOnly) = Find(name, value);
        if (exact > 0 && _random.NextDouble() < 0.85)
        {
            WriteInteger(output, exact, 7, 0x80);
            return;
        }

        var kind = _random.NextDouble();
        var (prefixBits, pattern) = kind switch
        {
            < 0.6 => (6, (byte)0x40), // with incremental indexing
            < 0.9 => (4, (byte)0x00), // without indexing
            _ => (4, (byte)0x10), // never indexed
        };
        var nameIndex = nameOnly > 0 && _random.NextDouble() < 0.8 ? nameOnly : 0;
        WriteInteger(output, nameIndex, prefixBits, pattern);
        if (nameIndex == 0)
        {
            WriteString(output, name, _random.Next(2) == 0);
        }

        WriteString(output, value, _random.Next(2) == 0);
        if (pattern == 0x40)
        {
            Add(name, value);
        }
    }

    /// <summary>The index of an entry equal to (name, value), and of one with that name; 0 when none.</summary>
    private (int Exact, int NameOnly) Find(string name, string value)
    {
        int exact = 0, nameOnly = 0;
        for (var i = 0; i < HpackStaticTable.Entries.Length && exact == 0; i++)
        {
            var entry = HpackStaticTable.Entries[i];
            if (entry.Name == name)
            {
                nameOnly = nameOnly == 0 ? i + 1 : nameOnly;
                exact = entry.Value == value ? i + 1 : 0;
            }
        }

        for (var i = 0; i < _dynamic.Count && exact == 0; i++)
        {
            var entry = _dynamic[i];
            if (entry.Name == name)
            {
                nameOnly = nameOnly == 0 ? HpackStaticTable.Entries.Length + i + 1 : nameOnly;
                exact = entry.Value == value ? HpackStaticTable.Entries.Length + i + 1 : 0;
            }
        }

        return (exact, nameOnly);
    }

    private void Add(string name, string value)
    {
        var size = Encoding.UTF8.GetByteCount(name) + Encoding.UTF8.GetByteCount(value) + EntryOverhead;
        _dynamic.Insert(0, (name, value));
        _size += size;
        Evict();
    }

    private void Evict()
    {
        while (_size > _maxSize && _dynamic.Count > 0)
        {
            var (name, value) = _dynamic[^1];
            _dynamic.RemoveAt(_dynamic.Count - 1);
            _size -= Encoding.UTF8.GetByteCount(name) + Encoding.UTF8.GetByteCount(value) + EntryOverhead;
        }
    }

    private static void WriteString(IBufferWriter<byte> output, string text, bool huffman)
    {
        var raw = Encoding.UTF8.GetBytes(text);
        if (!huffman)
        {
            WriteInteger(output, raw.Length, 7, 0x00);
            output.Write(raw);
            return;
        }

        var codes = ProxTunnel.Http2.HuffmanCodes.Codes;
        var lengths = ProxTunnel.Http2.HuffmanCodes.Lengths;
        long bits = 0;
        foreach (var octet in raw)
        {
            bits += lengths[octet];
        }

        var encoded = new byte[(bits + 7) / 8];
        ulong accumulator = 0;
        var pending = 0;
        var at = 0;
        foreach (var octet in raw)
        {
            accumulator = (accumulator << lengths[octet]) | codes[octet];
            pending += lengths[octet];
            while (pending >= 8)
            {
                pending -= 8;
                encoded[at++] = (byte)(accumulator >> pending);
            }
        }

        if (pending > 0)
        {
            // Pad with the most significant bits of EOS (all ones), RFC 7541 §5.2.
            encoded[at] = (byte)((accumulator << (8 - pending)) | (0xFFu >> pending));
        }

        WriteInteger(output, encoded.Length, 7, 0x80);
        output.Write(encoded);
    }

    /// <summary>An integer with an N-bit prefix (RFC 7541 §5.1), the first byte's high bits set to <paramref name="pattern"/>.</summary>
    private static void WriteInteger(IBufferWriter<byte> output, int value, int prefixBits, byte pattern)
    {
        var span = output.GetSpan(8);
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            span[0] = (byte)(pattern | value);
            output.Advance(1);
            return;
        }

        span[0] = (byte)(pattern | max);
        var written = 1;
        value -= max;
        while (value >= 0x80)
        {
            span[written++] = (byte)((value & 0x7F) | 0x80);
            value >>= 7;
        }

        span[written++] = (byte)value;
        output.Advance(written);
    }
}
