using System.Buffers;
using System.IO.Pipelines;

namespace ProxTunnel.Benchmarks.Rewriting;

/// <summary>
/// A source <see cref="PipeReader"/> standing in for the transport of a keep-alive connection that sends the same
/// request over and over: every read returns what is left of the current copy, and once it is all consumed the next
/// read starts a fresh copy. An optional opening is read first, and an optional hook may patch the request in place
/// before each copy (an HTTP/2 stream id). Completes synchronously and allocates nothing.
/// </summary>
internal sealed class ReplayPipeReader : PipeReader
{
    private readonly ReadOnlySequence<byte> _request;
    private readonly Action? _beforeEachCopy;
    private ReadOnlySequence<byte> _remaining;

    public ReplayPipeReader(ReadOnlySequence<byte> request, ReadOnlySequence<byte>? opening = null, Action? beforeEachCopy = null)
    {
        _request = request;
        _beforeEachCopy = beforeEachCopy;
        _remaining = opening ?? request;
    }

    public override bool TryRead(out ReadResult result)
    {
        if (_remaining.IsEmpty)
        {
            _beforeEachCopy?.Invoke();
            _remaining = _request;
        }

        result = new ReadResult(_remaining, isCanceled: false, isCompleted: false);
        return true;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        TryRead(out var result);
        return new ValueTask<ReadResult>(result);
    }

    public override void AdvanceTo(SequencePosition consumed) => _remaining = _remaining.Slice(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => _remaining = _remaining.Slice(consumed);

    public override void CancelPendingRead()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }
}

/// <summary>A <see cref="PipeWriter"/> that drops everything (the rewriter writes nothing on these paths).</summary>
internal sealed class NullPipeWriter : PipeWriter
{
    private readonly byte[] _buffer = new byte[4096];

    public override void Advance(int bytes)
    {
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => sizeHint <= _buffer.Length ? _buffer : new byte[sizeHint];

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void CancelPendingFlush()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => new(new FlushResult(false, false));
}

/// <summary>Builds a <see cref="ReadOnlySequence{T}"/> of one-byte segments.</summary>
internal sealed class ByteSegment : ReadOnlySequenceSegment<byte>
{
    private ByteSegment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Split(byte[] data)
    {
        var first = new ByteSegment(data.AsMemory(0, 1), 0);
        var last = first;
        for (var i = 1; i < data.Length; i++)
        {
            var next = new ByteSegment(data.AsMemory(i, 1), i);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, 1);
    }
}
