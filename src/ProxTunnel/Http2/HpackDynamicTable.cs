using System.Buffers;

namespace ProxTunnel.Http2;

/// <summary>
/// The decoder's dynamic table (RFC 7541 §2.3.2, §4). Entry bytes live in one pooled array, oldest first, appended at
/// the end and compacted to the front when the end is reached, so inserting costs amortised O(1) per byte. Sizes count
/// name + value + 32 as the RFC does. Storage starts small and doubles with use up to what the limit can need: most
/// connections' tables stay far below the limit, and an idle tunnel should not hold the limit's worth twice over.
/// </summary>
internal sealed class HpackDynamicTable : IDisposable
{
    public const int EntryOverhead = 32;
    private const int InitialBytes = 512;
    private const int InitialSlots = 16;

    private readonly int _limit;
    private byte[]? _data;
    private Slot[] _slots = [];
    private int _oldest;
    private int _count;
    private int _end;

    public HpackDynamicTable(int limit)
    {
        _limit = limit;
        MaxSize = limit;
    }

    /// <summary>The most the table may hold: the limit advertised to the client, or less after a size update.</summary>
    public int MaxSize { get; private set; }

    public int Size { get; private set; }

    public int Count => _count;

    /// <summary>Applies a dynamic table size update; false when it exceeds the advertised limit.</summary>
    public bool SetMaxSize(int size)
    {
        if (size < 0 || size > _limit)
        {
            return false;
        }

        MaxSize = size;
        EvictUntil(size);
        return true;
    }

    /// <summary>Entry by HPACK dynamic index, 1 being the newest; <paramref name="staticName"/> is the static index of
    /// its name, or 0, remembered so the encoder need not look names up again.</summary>
    public void Get(int index, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value, out int staticName)
    {
        ref readonly var slot = ref _slots[(_oldest + _count - index) % _slots.Length];
        name = _data.AsSpan(slot.Offset, slot.NameLength);
        value = _data.AsSpan(slot.Offset + slot.NameLength, slot.ValueLength);
        staticName = slot.StaticName;
    }

    public void Add(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, int staticName = 0)
    {
        var size = name.Length + value.Length + EntryOverhead;
        if (size > MaxSize)
        {
            // RFC 7541 §4.4: an entry larger than the table empties it and is not added.
            EvictUntil(0);
            return;
        }

        EvictUntil(MaxSize - size);
        var length = name.Length + value.Length;
        EnsureRoom(length);

        name.CopyTo(_data.AsSpan(_end));
        value.CopyTo(_data.AsSpan(_end + name.Length));
        _slots[(_oldest + _count) % _slots.Length] = new Slot(_end, name.Length, value.Length, staticName);
        _count++;
        _end += length;
        Size += size;
    }

    private void EvictUntil(int size)
    {
        while (Size > size && _count > 0)
        {
            ref readonly var slot = ref _slots[_oldest];
            Size -= slot.NameLength + slot.ValueLength + EntryOverhead;
            _oldest = (_oldest + 1) % _slots.Length;
            _count--;
        }

        if (_count == 0)
        {
            _end = 0;
        }
    }

    private void EnsureRoom(int length)
    {
        // Live bytes never exceed the limit, so 2 × limit always leaves room to append until the next compaction, and
        // every entry counts at least 32, so limit / 32 + 1 slots always suffice.
        var maxBytes = Math.Max(64, _limit * 2);
        var maxSlots = (_limit / EntryOverhead) + 1;
        if (_data is null)
        {
            _data = ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes, Math.Max(InitialBytes, length)));
            _slots = new Slot[Math.Min(maxSlots, InitialSlots)];
        }

        if (_count == _slots.Length)
        {
            var slots = new Slot[Math.Min(maxSlots, _slots.Length * 2)];
            for (var i = 0; i < _count; i++)
            {
                slots[i] = _slots[(_oldest + i) % _slots.Length];
            }

            _slots = slots;
            _oldest = 0;
        }

        if (_end + length <= _data.Length)
        {
            return;
        }

        Compact();
        if (_end + length > _data.Length)
        {
            var data = ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes, Math.Max(_data.Length * 2, _end + length)));
            _data.AsSpan(0, _end).CopyTo(data);
            ArrayPool<byte>.Shared.Return(_data);
            _data = data;
        }
    }

    private void Compact()
    {
        var start = _count == 0 ? _end : _slots[_oldest].Offset;
        _data.AsSpan(start, _end - start).CopyTo(_data);
        for (var i = 0; i < _count; i++)
        {
            ref var slot = ref _slots[(_oldest + i) % _slots.Length];
            slot = slot with { Offset = slot.Offset - start };
        }

        _end -= start;
    }

    public void Dispose()
    {
        if (_data is not null)
        {
            ArrayPool<byte>.Shared.Return(_data);
            _data = null;
        }
    }

    private readonly record struct Slot(int Offset, int NameLength, int ValueLength, int StaticName);
}
