namespace ProxTunnel.Http2;

/// <summary>What decoding one header block came to.</summary>
internal enum HpackStatus
{
    Ok,

    /// <summary>Not valid HPACK (bad index, integer, Huffman string, misplaced size update): COMPRESSION_ERROR.</summary>
    Malformed,

    /// <summary>A dynamic table size update above the size the server advertised: COMPRESSION_ERROR.</summary>
    TableSizeTooLarge,

    /// <summary>The decoded block is larger than the header size limit: ENHANCE_YOUR_CALM.</summary>
    TooLarge,
}

/// <summary>
/// An HPACK decoder (RFC 7541) for the client-to-server direction of one connection: static and dynamic table,
/// Huffman strings, size updates. Decoded fields are copied into a <see cref="HeaderFieldList"/>.
/// </summary>
internal sealed class HpackDecoder : IDisposable
{
    private readonly HpackDynamicTable _table;

    /// <param name="maxTableSize">SETTINGS_HEADER_TABLE_SIZE as the server advertises it: the most any size update may ask for.</param>
    public HpackDecoder(int maxTableSize)
    {
        _table = new HpackDynamicTable(maxTableSize);
    }

    public HpackDynamicTable Table => _table;

    public HpackStatus Decode(ReadOnlySpan<byte> block, HeaderFieldList fields)
    {
        var pos = 0;
        var sawField = false;
        while (pos < block.Length)
        {
            var first = block[pos];
            HpackStatus status;
            if ((first & 0x80) != 0)
            {
                if (!HpackInteger.TryRead(block, ref pos, 7, out var index))
                {
                    return HpackStatus.Malformed;
                }

                status = AddIndexed(index, fields);
            }
            else if ((first & 0x40) != 0)
            {
                status = AddLiteral(block, ref pos, 6, fields, index: true, neverIndexed: false);
            }
            else if ((first & 0x20) != 0)
            {
                // RFC 7541 §4.2: size updates come first in a block, before any field.
                if (sawField || !HpackInteger.TryRead(block, ref pos, 5, out var size))
                {
                    return HpackStatus.Malformed;
                }

                status = _table.SetMaxSize(size) ? HpackStatus.Ok : HpackStatus.TableSizeTooLarge;
                if (status != HpackStatus.Ok)
                {
                    return status;
                }

                continue;
            }
            else
            {
                status = AddLiteral(block, ref pos, 4, fields, index: false, neverIndexed: (first & 0x10) != 0);
            }

            if (status != HpackStatus.Ok)
            {
                return status;
            }

            sawField = true;
        }

        return HpackStatus.Ok;
    }

    private HpackStatus AddIndexed(int index, HeaderFieldList fields)
    {
        if (index == 0)
        {
            return HpackStatus.Malformed;
        }

        if (index <= HpackStaticTable.Count)
        {
            var name = HpackStaticTable.Name(index);
            return fields.Add(name, HpackStaticTable.Value(index), HpackStaticTable.FindName(name), neverIndexed: false)
                ? HpackStatus.Ok : HpackStatus.TooLarge;
        }

        if (index - HpackStaticTable.Count > _table.Count)
        {
            return HpackStatus.Malformed;
        }

        _table.Get(index - HpackStaticTable.Count, out var dynamicName, out var dynamicValue, out var staticName);
        return fields.Add(dynamicName, dynamicValue, staticName, neverIndexed: false) ? HpackStatus.Ok : HpackStatus.TooLarge;
    }

    private HpackStatus AddLiteral(ReadOnlySpan<byte> block, ref int pos, int prefixBits, HeaderFieldList fields, bool index, bool neverIndexed)
    {
        if (!HpackInteger.TryRead(block, ref pos, prefixBits, out var nameIndex))
        {
            return HpackStatus.Malformed;
        }

        var nameStart = fields.Used;
        int nameLength;
        var staticName = 0;
        if (nameIndex == 0)
        {
            var status = ReadString(block, ref pos, fields, out nameLength);
            if (status != HpackStatus.Ok)
            {
                return status;
            }
        }
        else
        {
            ReadOnlySpan<byte> name;
            if (nameIndex <= HpackStaticTable.Count)
            {
                name = HpackStaticTable.Name(nameIndex);
                staticName = HpackStaticTable.FindName(name);
            }
            else if (nameIndex - HpackStaticTable.Count <= _table.Count)
            {
                _table.Get(nameIndex - HpackStaticTable.Count, out name, out _, out staticName);
            }
            else
            {
                return HpackStatus.Malformed;
            }

            var free = fields.Free;
            if (name.Length > free.Length)
            {
                return HpackStatus.TooLarge;
            }

            name.CopyTo(free);
            fields.Commit(name.Length);
            nameLength = name.Length;
        }

        var valueStatus = ReadString(block, ref pos, fields, out var valueLength);
        if (valueStatus != HpackStatus.Ok)
        {
            return valueStatus;
        }

        if (!fields.Add(nameStart, nameLength, valueLength, staticName, neverIndexed))
        {
            return HpackStatus.TooLarge;
        }

        if (index)
        {
            var field = fields[fields.Count - 1];
            // Look a new name up once here, not on every later reference to the entry.
            var name = fields.Name(field);
            _table.Add(name, fields.Value(field), field.StaticName != 0 ? field.StaticName : HpackStaticTable.FindName(name));
        }

        return HpackStatus.Ok;
    }

    private static HpackStatus ReadString(ReadOnlySpan<byte> block, ref int pos, HeaderFieldList fields, out int length)
    {
        length = 0;
        if (pos >= block.Length)
        {
            return HpackStatus.Malformed;
        }

        var huffman = (block[pos] & 0x80) != 0;
        if (!HpackInteger.TryRead(block, ref pos, 7, out var encodedLength) || encodedLength > block.Length - pos)
        {
            return HpackStatus.Malformed;
        }

        var encoded = block.Slice(pos, encodedLength);
        pos += encodedLength;
        var free = fields.Free;
        if (huffman)
        {
            length = HuffmanDecoder.Decode(encoded, free);
            if (length < 0)
            {
                return length == -2 ? HpackStatus.TooLarge : HpackStatus.Malformed;
            }
        }
        else
        {
            if (encoded.Length > free.Length)
            {
                return HpackStatus.TooLarge;
            }

            encoded.CopyTo(free);
            length = encoded.Length;
        }

        fields.Commit(length);
        return HpackStatus.Ok;
    }

    public void Dispose() => _table.Dispose();
}
