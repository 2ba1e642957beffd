using System.Buffers;
using System.IO.Pipelines;

namespace ProxTunnel.Tests.Rewriting;

/// <summary>
/// A source that delivers fixed bytes in scripted arrivals, each its own buffer segment, the next arrival only once the
/// reader has examined everything it has: the way a socket delivers a stream split at arbitrary points.
/// </summary>
internal sealed class ScriptedPipeReader : PipeReader
{
    private readonly Segment[] _segments;
    private readonly byte[] _data;
    private int _arrived = 1;
    private long _consumed;
    private long _examined;

    public ScriptedPipeReader(byte[] data, IReadOnlyList<int> cuts)
    {
        _data = data;
        var bounds = new List<int> { 0 };
        bounds.AddRange(cuts.Where(c => c > 0 && c < data.Length).Distinct().Order());
        bounds.Add(data.Length);
        _segments = new Segment[bounds.Count - 1];
        Segment? previous = null;
        for (var i = 0; i < _segments.Length; i++)
        {
            var segment = new Segment(data.AsMemory(bounds[i], bounds[i + 1] - bounds[i]), bounds[i]);
            previous?.SetNext(segment);
            _segments[i] = segment;
            previous = segment;
        }
    }

    private long Available => _segments[_arrived - 1].RunningIndex + _segments[_arrived - 1].Memory.Length;

    public override bool TryRead(out ReadResult result)
    {
        result = Current();
        return true;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_examined >= Available && _arrived < _segments.Length)
        {
            _arrived++;
        }

        return ValueTask.FromResult(Current());
    }

    private ReadResult Current()
    {
        var end = _segments[_arrived - 1];
        var startSegment = _segments.Last(s => s.RunningIndex <= _consumed && (s.RunningIndex + s.Memory.Length > _consumed || s == end));
        var sequence = new ReadOnlySequence<byte>(startSegment, (int)(_consumed - startSegment.RunningIndex), end, end.Memory.Length);
        return new ReadResult(sequence, false, _arrived == _segments.Length && _consumed + sequence.Length == _data.Length);
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        _consumed = Offset(consumed);
        _examined = Math.Max(_examined, Offset(examined));
    }

    private static long Offset(SequencePosition position) => ((Segment)position.GetObject()!).RunningIndex + position.GetInteger();

    public override void CancelPendingRead()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }
}
