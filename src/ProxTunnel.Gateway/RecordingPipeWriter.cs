using System.IO.Pipelines;

namespace ProxTunnel.Gateway;

/// <summary>
/// The response's <c>BodyWriter</c> while it is recorded: the server's own writer, passed through (no buffer, no copy),
/// with every committed byte shown to <see cref="RecordingResponseBody.Record"/>.
/// </summary>
internal sealed class RecordingPipeWriter(PipeWriter inner, RecordingResponseBody recording) : PipeWriter
{
    // The buffer handed out last: Advance(n) commits its first n bytes.
    private Memory<byte> _lent;

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    public override Memory<byte> GetMemory(int sizeHint = 0) => _lent = inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes)
    {
        recording.Record(_lent.Span[..bytes]);
        _lent = _lent[bytes..];
        inner.Advance(bytes);
    }

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        recording.Record(source.Span);
        return inner.WriteAsync(source, cancellationToken);
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
}
