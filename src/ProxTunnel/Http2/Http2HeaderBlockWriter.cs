using System.Buffers;
using System.Text;

namespace ProxTunnel.Http2;

/// <summary>
/// Re-encodes a decoded header block for Kestrel: the new <c>:path</c> first (when there is one), then every other
/// field in the client's order except <c>:path</c>, <c>proxy-authorization</c> and <c>proxy-connection</c>; split into a
/// HEADERS frame and CONTINUATION frames no larger than Kestrel's SETTINGS_MAX_FRAME_SIZE; padding dropped, priority
/// fields and END_STREAM kept. The frames go into one array rented from the shared pool.
/// </summary>
internal static class Http2HeaderBlockWriter
{
    private static ReadOnlySpan<byte> PathName => ":path"u8;

    public static byte[] Write(HeaderFieldList fields, ReadOnlySpan<byte> newPath, byte flags, ReadOnlySpan<byte> priority,
        int streamId, int maxFrameSize, out int length)
    {
        var encodedMax = newPath.IsEmpty ? 0 : HpackEncoder.MaxFieldLength(PathName.Length, newPath.Length);
        for (var i = 0; i < fields.Count; i++)
        {
            ref readonly var field = ref fields[i];
            encodedMax += HpackEncoder.MaxFieldLength(field.NameLength, field.ValueLength);
        }

        var headerRoom = Http2Frame.HeaderLength + priority.Length;
        var output = ArrayPool<byte>.Shared.Rent(headerRoom + encodedMax);
        var block = output.AsSpan(headerRoom);
        var written = 0;
        if (!newPath.IsEmpty)
        {
            written += HpackEncoder.WriteField(block, PathName, newPath, HpackStaticTable.Path, neverIndexed: false);
        }

        for (var i = 0; i < fields.Count; i++)
        {
            ref readonly var field = ref fields[i];
            var name = fields.Name(field);
            if (IsDropped(name, dropPath: !newPath.IsEmpty))
            {
                continue;
            }

            written += HpackEncoder.WriteField(block[written..], name, fields.Value(field), field.StaticName, field.NeverIndexed);
        }

        var keptFlags = (byte)(flags & (Http2Frame.FlagEndStream | Http2Frame.FlagPriority));
        var firstCapacity = maxFrameSize - priority.Length;
        if (written <= firstCapacity)
        {
            Http2Frame.WriteHeader(output, priority.Length + written, Http2Frame.TypeHeaders, (byte)(keptFlags | Http2Frame.FlagEndHeaders), streamId);
            priority.CopyTo(output.AsSpan(Http2Frame.HeaderLength));
            length = headerRoom + written;
            return output;
        }

        // Rare: a block larger than one frame. Copy it out into HEADERS + CONTINUATION frames.
        try
        {
            return Split(output.AsSpan(headerRoom, written), keptFlags, priority, streamId, maxFrameSize, out length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(output);
        }
    }

    private static byte[] Split(ReadOnlySpan<byte> block, byte flags, ReadOnlySpan<byte> priority, int streamId, int maxFrameSize, out int length)
    {
        var firstCapacity = maxFrameSize - priority.Length;
        var continuations = (block.Length - firstCapacity + maxFrameSize - 1) / maxFrameSize;
        var output = ArrayPool<byte>.Shared.Rent(block.Length + priority.Length + Http2Frame.HeaderLength * (1 + continuations));
        var span = output.AsSpan();
        Http2Frame.WriteHeader(span, priority.Length + firstCapacity, Http2Frame.TypeHeaders, flags, streamId);
        priority.CopyTo(span[Http2Frame.HeaderLength..]);
        var written = Http2Frame.HeaderLength + priority.Length;
        block[..firstCapacity].CopyTo(span[written..]);
        written += firstCapacity;
        var rest = block[firstCapacity..];
        while (!rest.IsEmpty)
        {
            var chunk = Math.Min(rest.Length, maxFrameSize);
            var last = chunk == rest.Length;
            Http2Frame.WriteHeader(span[written..], chunk, Http2Frame.TypeContinuation, last ? Http2Frame.FlagEndHeaders : (byte)0, streamId);
            written += Http2Frame.HeaderLength;
            rest[..chunk].CopyTo(span[written..]);
            written += chunk;
            rest = rest[chunk..];
        }

        length = written;
        return output;
    }

    /// <summary>Hop-by-hop proxy fields never reach the app (SPEC §3.5); <c>:path</c> is replaced by the rewritten one.</summary>
    public static bool IsDropped(ReadOnlySpan<byte> name, bool dropPath) => name.Length switch
    {
        5 => dropPath && name.SequenceEqual(PathName),
        16 => Ascii.EqualsIgnoreCase(name, "proxy-connection"u8),
        19 => Ascii.EqualsIgnoreCase(name, "proxy-authorization"u8),
        _ => false,
    };
}
