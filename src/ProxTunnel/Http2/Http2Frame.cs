namespace ProxTunnel.Http2;

/// <summary>HTTP/2 framing constants (RFC 9113 §4.1, §6, §7) the rewriter needs.</summary>
internal static class Http2Frame
{
    public const int HeaderLength = 9;

    public const byte TypeData = 0x0;
    public const byte TypeHeaders = 0x1;
    public const byte TypeGoAway = 0x7;
    public const byte TypeContinuation = 0x9;

    public const byte FlagEndStream = 0x1;
    public const byte FlagEndHeaders = 0x4;
    public const byte FlagPadded = 0x8;
    public const byte FlagPriority = 0x20;

    /// <summary>The client connection preface, RFC 9113 §3.4.</summary>
    public static ReadOnlySpan<byte> ClientPreface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    public static int PayloadLength(ReadOnlySpan<byte> header) => header[0] << 16 | header[1] << 8 | header[2];

    public static int StreamId(ReadOnlySpan<byte> header) => (header[5] & 0x7F) << 24 | header[6] << 16 | header[7] << 8 | header[8];

    public static void WriteHeader(Span<byte> destination, int length, byte type, byte flags, int streamId)
    {
        destination[0] = (byte)(length >> 16);
        destination[1] = (byte)(length >> 8);
        destination[2] = (byte)length;
        destination[3] = type;
        destination[4] = flags;
        destination[5] = (byte)(streamId >> 24 & 0x7F);
        destination[6] = (byte)(streamId >> 16);
        destination[7] = (byte)(streamId >> 8);
        destination[8] = (byte)streamId;
    }

    /// <summary>A GOAWAY frame (RFC 9113 §6.8) naming the last stream the server handled and the error.</summary>
    public static byte[] GoAway(int lastStreamId, Http2ErrorCode error)
    {
        var frame = new byte[HeaderLength + 8];
        WriteHeader(frame, 8, TypeGoAway, 0, 0);
        var payload = frame.AsSpan(HeaderLength);
        payload[0] = (byte)(lastStreamId >> 24 & 0x7F);
        payload[1] = (byte)(lastStreamId >> 16);
        payload[2] = (byte)(lastStreamId >> 8);
        payload[3] = (byte)lastStreamId;
        payload[4] = (byte)((uint)error >> 24);
        payload[5] = (byte)((uint)error >> 16);
        payload[6] = (byte)((uint)error >> 8);
        payload[7] = (byte)error;
        return frame;
    }
}

/// <summary>HTTP/2 error codes (RFC 9113 §7) the rewriter ends a connection with.</summary>
internal enum Http2ErrorCode
{
    NoError = 0x0,
    ProtocolError = 0x1,
    InternalError = 0x2,
    FrameSizeError = 0x6,
    CompressionError = 0x9,
    EnhanceYourCalm = 0xB,
    Http11Required = 0xD,
}
