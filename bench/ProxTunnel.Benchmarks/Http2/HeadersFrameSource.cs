using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using ProxTunnel.Benchmarks.Rewriting;

namespace ProxTunnel.Benchmarks.Http2;

/// <summary>
/// A source <see cref="PipeReader"/> standing in for a browser's HTTP/2 connection: first the opening bytes (preface,
/// SETTINGS, the first request's HEADERS, which fills the HPACK dynamic table), then, each time everything has been
/// consumed, one more HEADERS frame carrying the steady-state block on the next odd stream id. The frame is patched in
/// place, so reads complete synchronously and allocate nothing.
/// </summary>
internal static class HeadersFrameSource
{
    public static PipeReader Create(ReadOnlySpan<byte> firstBlock, ReadOnlySpan<byte> steadyBlock)
    {
        var settings = Frame(0x4, 0, 0, []);
        var first = Frame(0x1, 0x5, 1, firstBlock);
        byte[] opening = [.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, .. settings, .. first];
        var frame = Frame(0x1, 0x5, 3, steadyBlock);
        var nextStreamId = 3;
        return new ReplayPipeReader(new ReadOnlySequence<byte>(frame), new ReadOnlySequence<byte>(opening), () =>
        {
            BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), nextStreamId);
            nextStreamId += 2;
        });
    }

    /// <summary>A frame: 9-byte header (RFC 9113 §4.1) and payload.</summary>
    public static byte[] Frame(byte type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId);
        payload.CopyTo(frame.AsSpan(9));
        return frame;
    }
}
