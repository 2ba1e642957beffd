using System.Buffers;

namespace ProxTunnel.Http2;

/// <summary>
/// The fields of one decoded header block, in order. Names and values are copied into one pooled buffer sized by the
/// header size limit, so a block can never cost more memory than the limit allows (HPACK bombs included); the
/// buffers are rented per block and returned by <see cref="Release"/>, so an idle connection holds none.
/// </summary>
internal sealed class HeaderFieldList
{
    private readonly int _maxSize;
    private byte[]? _bytes;
    private HeaderField[]? _fields;
    private int _used;

    public HeaderFieldList(int maxSize)
    {
        _maxSize = maxSize;
    }

    public int Count { get; private set; }

    /// <summary>Decoded size as RFC 9113 §6.5.2 and Kestrel count it: name + value + 32 per field.</summary>
    public int Size { get; private set; }

    public ref readonly HeaderField this[int index] => ref _fields![index];

    public ReadOnlySpan<byte> Name(in HeaderField field) => _bytes.AsSpan(field.NameStart, field.NameLength);

    public ReadOnlySpan<byte> Value(in HeaderField field) => _bytes.AsSpan(field.NameStart + field.NameLength, field.ValueLength);

    /// <summary>Room for the next string; decoders write into it and then call <see cref="Commit"/>.</summary>
    public Span<byte> Free
    {
        get
        {
            _bytes ??= ArrayPool<byte>.Shared.Rent(_maxSize);
            return _bytes.AsSpan(_used, _maxSize - _used);
        }
    }

    public int Used => _used;

    public void Commit(int length) => _used += length;

    /// <summary>Appends a field whose name starts at <paramref name="nameStart"/> and whose value follows it directly.
    /// False when the block grows over the size limit.</summary>
    public bool Add(int nameStart, int nameLength, int valueLength, int staticName, bool neverIndexed)
    {
        Size += nameLength + valueLength + HpackDynamicTable.EntryOverhead;
        if (Size > _maxSize)
        {
            return false;
        }

        _fields ??= ArrayPool<HeaderField>.Shared.Rent(_maxSize / HpackDynamicTable.EntryOverhead + 1);
        _fields[Count++] = new HeaderField(nameStart, nameLength, valueLength, staticName, neverIndexed);
        return true;
    }

    /// <summary>Copies a name and value in (from a table entry) and appends the field.</summary>
    public bool Add(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, int staticName, bool neverIndexed)
    {
        var free = Free;
        if (name.Length + value.Length > free.Length)
        {
            return false;
        }

        name.CopyTo(free);
        value.CopyTo(free[name.Length..]);
        var start = _used;
        _used += name.Length + value.Length;
        return Add(start, name.Length, value.Length, staticName, neverIndexed);
    }

    public void Release()
    {
        if (_bytes is not null)
        {
            ArrayPool<byte>.Shared.Return(_bytes);
            _bytes = null;
        }

        if (_fields is not null)
        {
            ArrayPool<HeaderField>.Shared.Return(_fields);
            _fields = null;
        }

        Count = 0;
        Size = 0;
        _used = 0;
    }
}

/// <summary>One decoded field: where its name and value sit in the list's buffer, the static index of its name (0 when
/// the name is not in the static table or not known to be), and whether the client marked it never-indexed.</summary>
internal readonly record struct HeaderField(int NameStart, int NameLength, int ValueLength, int StaticName, bool NeverIndexed);
