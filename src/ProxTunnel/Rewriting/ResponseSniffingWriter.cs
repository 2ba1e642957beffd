using System.IO.Pipelines;

namespace ProxTunnel.Rewriting;

/// <summary>
/// The output Kestrel writes to. It passes everything through, except that <see cref="Complete"/> leaves the real
/// transport open (the middleware may hand the connection to Kestrel again after a later CONNECT), and, while armed,
/// it reads the status line of the next response so the rewriter knows whether an upgrade was accepted with 101.
/// </summary>
internal sealed class ResponseSniffingWriter : PipeWriter
{
    private const int StatusLineProbe = 12; // "HTTP/1.1 101"
    private readonly byte[] _probe = new byte[StatusLineProbe];
    private PipeWriter _inner;
    private Memory<byte> _lastMemory;
    private int _probed;
    private bool _armed;

    public ResponseSniffingWriter(PipeWriter inner)
    {
        _inner = inner;
    }

    /// <summary>True when the response after the last <see cref="Arm"/> began with status 101.</summary>
    public bool SawSwitchingProtocols { get; private set; }

    public void Reset(PipeWriter inner)
    {
        _inner = inner;
        _armed = false;
        SawSwitchingProtocols = false;
    }

    public void Arm()
    {
        _armed = true;
        _probed = 0;
        SawSwitchingProtocols = false;
    }

    public override void Advance(int bytes)
    {
        if (_armed && bytes > 0)
        {
            var take = Math.Min(bytes, StatusLineProbe - _probed);
            _lastMemory.Span[..take].CopyTo(_probe.AsSpan(_probed));
            _probed += take;
            if (_probed == StatusLineProbe)
            {
                _armed = false;
                var probe = _probe.AsSpan();
                SawSwitchingProtocols = probe.StartsWith("HTTP/1."u8) && probe[8..].SequenceEqual(" 101"u8);
            }
        }

        _inner.Advance(bytes);
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        var memory = _inner.GetMemory(sizeHint);
        _lastMemory = memory;
        return memory;
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void CancelPendingFlush() => _inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null)
    {
    }

    public override ValueTask CompleteAsync(Exception? exception = null) => ValueTask.CompletedTask;

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => _inner.FlushAsync(cancellationToken);

    public override bool CanGetUnflushedBytes => _inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => _inner.UnflushedBytes;
}
