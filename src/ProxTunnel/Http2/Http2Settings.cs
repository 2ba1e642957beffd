namespace ProxTunnel.Http2;

/// <summary>
/// The HTTP/2 facts of one listener, fixed at start-up. Kestrel advertises exactly its <c>Limits.Http2</c> values in
/// its SETTINGS frame and never changes them on a connection, so the rewriter takes the header table size and frame
/// size from there instead of parsing Kestrel's output.
/// </summary>
internal sealed class Http2Settings
{
    public Http2Settings(bool enabled, int headerTableSize, int maxFrameSize, int maxHeaderBytes)
    {
        Enabled = enabled;
        HeaderTableSize = headerTableSize;
        MaxFrameSize = maxFrameSize;
        MaxHeaderBytes = maxHeaderBytes;

        // Compressed blocks are never larger than their decoded size (each field counts 32 bytes more there), so this
        // leaves room for padding and size updates and still stops a flood after a bounded number of bytes.
        MaxBlockBytes = maxHeaderBytes + 4096;
    }

    /// <summary>Offer <c>h2</c> in tunnel handshakes.</summary>
    public bool Enabled { get; }

    /// <summary>Kestrel's SETTINGS_HEADER_TABLE_SIZE: the largest dynamic table the client may ask for.</summary>
    public int HeaderTableSize { get; }

    /// <summary>Kestrel's SETTINGS_MAX_FRAME_SIZE: re-encoded blocks are split into frames no larger.</summary>
    public int MaxFrameSize { get; }

    /// <summary>Largest decoded header block (name + value + 32 per field): <c>MaxRequestHeadersTotalSize</c>.</summary>
    public int MaxHeaderBytes { get; }

    /// <summary>Largest sum of frame payloads of one HEADERS + CONTINUATION sequence.</summary>
    public int MaxBlockBytes { get; }

    /// <summary>Most CONTINUATION frames one header block may use.</summary>
    public int MaxContinuationFrames { get; } = 64;
}
