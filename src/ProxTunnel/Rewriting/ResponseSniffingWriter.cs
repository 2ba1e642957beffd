using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Text;

namespace ProxTunnel.Rewriting;

/// <summary>
/// The output Kestrel writes to. It passes everything through, except that <see cref="Complete"/> leaves the real
/// transport open (the middleware may hand the connection to Kestrel again), and two things the rewriter arms it for:
/// <list type="bullet">
/// <item>it reads the status line of the next response so the rewriter knows whether an upgrade was accepted with 101;</item>
/// <item>for an HTTP/1.0 keep-alive request inside a tunnel it holds the response: Kestrel cannot frame a streamed
/// response to HTTP/1.0 and ends the connection (<c>Connection: close</c>, no length). When the whole response fits in
/// <see cref="MaxHeldResponse"/>, <see cref="FinishPassAsync"/> sends it with <c>Content-Length</c> and
/// <c>Connection: keep-alive</c> and the tunnel lives on (as wsgiprox does); a larger one goes out as it was, and the
/// connection ends as HTTP/1.0 requires.</item>
/// </list>
/// </summary>
internal sealed class ResponseSniffingWriter : PipeWriter
{
    /// <summary>The largest response body held back to give an HTTP/1.0 keep-alive client a length.</summary>
    public const int MaxHeldResponse = 64 * 1024;

    private const int StatusLineProbe = 12; // "HTTP/1.1 101"
    private static ReadOnlySpan<byte> SwitchingProtocols => "HTTP/1.1 101"u8;
    private const int MaxHeldHead = 16 * 1024;

    private static readonly Task<bool> NotHeld = Task.FromResult(false);
    private PipeWriter _inner;

    // What the two rare jobs need (the status-line probe, a held response): made on first use, so a connection that
    // never asked for either keeps a writer of two references (issue 13.1).
    private Watch? _watch;

    public ResponseSniffingWriter(PipeWriter inner)
    {
        _inner = inner;
    }

    /// <summary>The transport this writer passes through to.</summary>
    public PipeWriter Inner => _inner;

    /// <summary>True when the response after the last <see cref="Arm"/> began with status 101.</summary>
    public bool SawSwitchingProtocols { get; private set; }

    public void Reset(PipeWriter inner)
    {
        _inner = inner;
        SawSwitchingProtocols = false;
        if (_watch is not null)
        {
            _watch.Armed = false;
            ReleaseHeld();
        }
    }

    public void Arm()
    {
        var watch = _watch ??= new Watch();
        watch.Armed = true;
        watch.Probed = 0;
        watch.ProbeMatches = true;
        SawSwitchingProtocols = false;
    }

    /// <summary>Holds the next response (to an HTTP/1.0 keep-alive request) until its length is known or too large.</summary>
    public void HoldHttp10Response()
    {
        var watch = _watch ??= new Watch();
        watch.Held = ArrayPool<byte>.Shared.Rent(4096);
        watch.HeldLength = 0;
        watch.HeldHeadEnd = 0;
    }

    /// <summary>
    /// Called when Kestrel's pass over the connection ended. Sends a held response; returns true when it went out with
    /// a length, so the connection stays open for the client's next request.
    /// </summary>
    public Task<bool> FinishPassAsync(CancellationToken cancellationToken) => _watch?.Held is null ? NotHeld : SendHeldAsync(_watch, cancellationToken);

    private async Task<bool> SendHeldAsync(Watch watch, CancellationToken cancellationToken)
    {
        var held = watch.Held!;
        var keep = watch.HeldHeadEnd > 0 && FramedByClose(held.AsSpan(0, watch.HeldHeadEnd));
        try
        {
            if (keep)
            {
                WriteWithLength(watch);
            }
            else
            {
                await _inner.WriteAsync(held.AsMemory(0, watch.HeldLength), cancellationToken);
            }

            await _inner.FlushAsync(cancellationToken);
        }
        finally
        {
            ReleaseHeld();
        }

        return keep;
    }

    public override void Advance(int bytes)
    {
        if (_watch is { } watch)
        {
            if (watch.Held is { } held)
            {
                AdvanceHeld(watch, held, bytes);
                return;
            }

            if (watch.Armed && bytes > 0)
            {
                Probe(watch, bytes);
            }

            // The block belongs to the inner writer from here on: keep no reference to it past the write.
            watch.LastMemory = default;
        }

        _inner.Advance(bytes);
    }

    private void AdvanceHeld(Watch watch, byte[] held, int bytes)
    {
        watch.HeldLength += bytes;
        if (watch.HeldHeadEnd == 0)
        {
            var end = held.AsSpan(0, watch.HeldLength).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                watch.HeldHeadEnd = end + 4;
                if (!FramedByClose(held.AsSpan(0, watch.HeldHeadEnd)))
                {
                    StopHolding(watch);
                }
            }
            else if (watch.HeldLength > MaxHeldHead)
            {
                StopHolding(watch);
            }
        }
        else if (watch.HeldLength - watch.HeldHeadEnd > MaxHeldResponse)
        {
            StopHolding(watch);
        }
    }

    private void Probe(Watch watch, int bytes)
    {
        var take = Math.Min(bytes, StatusLineProbe - watch.Probed);
        foreach (var b in watch.LastMemory.Span[..take])
        {
            // "HTTP/1.x 101": any minor version.
            watch.ProbeMatches &= watch.Probed == 7 || b == SwitchingProtocols[watch.Probed];
            watch.Probed++;
        }

        if (watch.Probed == StatusLineProbe)
        {
            watch.Armed = false;
            SawSwitchingProtocols = watch.ProbeMatches;
        }
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_watch is not { } watch)
        {
            return _inner.GetMemory(sizeHint);
        }

        if (watch.Held is { } held)
        {
            var needed = watch.HeldLength + Math.Max(sizeHint, 512);
            if (needed > held.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, held.Length * 2));
                held.AsSpan(0, watch.HeldLength).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(held);
                watch.Held = held = larger;
            }

            return held.AsMemory(watch.HeldLength);
        }

        var memory = _inner.GetMemory(sizeHint);
        if (watch.Armed)
        {
            watch.LastMemory = memory;
        }

        return memory;
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void CancelPendingFlush() => _inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null)
    {
    }

    public override ValueTask CompleteAsync(Exception? exception = null) => ValueTask.CompletedTask;

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        => _watch?.Held is not null ? ValueTask.FromResult(default(FlushResult)) : _inner.FlushAsync(cancellationToken);

    public override bool CanGetUnflushedBytes => _inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => _inner.UnflushedBytes + (_watch?.Held is null ? 0 : _watch.HeldLength);

    /// <summary>
    /// True for the head Kestrel writes when it can only frame the body by closing: <c>Connection: close</c>, neither
    /// <c>Content-Length</c> nor <c>Transfer-Encoding</c>, and a status that has a body.
    /// </summary>
    private static bool FramedByClose(ReadOnlySpan<byte> head)
    {
        if (head.Length < 16 || !head.StartsWith("HTTP/1."u8) || head[9] is (byte)'1' || head[9..12].SequenceEqual("204"u8) || head[9..12].SequenceEqual("304"u8))
        {
            return false;
        }

        var close = false;
        foreach (var range in head.Split("\r\n"u8))
        {
            var line = head[range];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                continue;
            }

            var name = line[..colon];
            if (Ascii.EqualsIgnoreCase(name, "content-length"u8) || Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
            {
                return false;
            }

            close |= Ascii.EqualsIgnoreCase(name, "connection"u8) && RequestHeadParser.ListContains(line[(colon + 1)..], "close"u8);
        }

        return close;
    }

    /// <summary>Writes the held response with its Connection line replaced by keep-alive and a Content-Length.</summary>
    private void WriteWithLength(Watch watch)
    {
        var held = watch.Held!;
        ReadOnlySpan<byte> head = held.AsSpan(0, watch.HeldHeadEnd - 2);
        var bodyLength = watch.HeldLength - watch.HeldHeadEnd;
        // Each Connection line may grow by a few bytes (a line is at least 16): half the head more is ample.
        var output = _inner.GetSpan(watch.HeldLength + (watch.HeldHeadEnd / 2) + 64);
        var written = 0;
        foreach (var range in head.Split("\r\n"u8))
        {
            var line = head[range];
            if (line.IsEmpty)
            {
                continue;
            }

            if (line.Length > 11 && Ascii.EqualsIgnoreCase(line[..11], "connection:"u8))
            {
                line = "Connection: keep-alive"u8;
            }

            line.CopyTo(output[written..]);
            written += line.Length;
            "\r\n"u8.CopyTo(output[written..]);
            written += 2;
        }

        "Content-Length: "u8.CopyTo(output[written..]);
        written += 16;
        Utf8Formatter.TryFormat(bodyLength, output[written..], out var digits);
        written += digits;
        "\r\n\r\n"u8.CopyTo(output[written..]);
        written += 4;
        held.AsSpan(watch.HeldHeadEnd, bodyLength).CopyTo(output[written..]);
        _inner.Advance(written + bodyLength);
    }

    /// <summary>The response is not one to hold (or grew too large): send what was held and pass the rest through.</summary>
    private void StopHolding(Watch watch)
    {
        var held = watch.Held!;
        watch.Held = null;
        _inner.Write(held.AsSpan(0, watch.HeldLength));
        ArrayPool<byte>.Shared.Return(held);
    }

    private void ReleaseHeld()
    {
        if (_watch?.Held is { } held)
        {
            ArrayPool<byte>.Shared.Return(held);
            _watch.Held = null;
        }
    }

    /// <summary>The probe's and the held response's state.</summary>
    private sealed class Watch
    {
        // The status line is matched as it is written, byte by byte: no copy of it is kept.
        public Memory<byte> LastMemory;
        public int Probed;
        public bool Armed;
        public bool ProbeMatches;

        // Holding an HTTP/1.0 response: everything Kestrel wrote so far, and where its head ends once known.
        public byte[]? Held;
        public int HeldLength;
        public int HeldHeadEnd;
    }
}
