using System.Diagnostics;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace ProxTunnel.Gateway;

/// <summary>
/// Stands in for the response body feature of one request: counts the bytes the app writes, notes when the first one
/// went out, and with <c>--har</c> keeps the first <see cref="BodyCapture.Limit"/> of them.
/// </summary>
internal sealed class RecordingResponseBody : Stream, IHttpResponseBodyFeature
{
    private readonly IHttpResponseBodyFeature _inner;
    private PipeWriter? _writer;

    public RecordingResponseBody(IHttpResponseBodyFeature inner, BodyCapture? capture)
    {
        _inner = inner;
        Capture = capture;
    }

    /// <summary>Bytes of body the app wrote (for HEAD and 304, what it wrote: normally 0).</summary>
    public long BytesWritten { get; private set; }

    /// <summary><see cref="Stopwatch.GetTimestamp"/> when the response started, or 0.</summary>
    public long StartedTimestamp { get; private set; }

    public BodyCapture? Capture { get; }

    Stream IHttpResponseBodyFeature.Stream => this;

    // Straight through to the server's writer, seeing each committed byte: no buffer or copy of its own.
    PipeWriter IHttpResponseBodyFeature.Writer => _writer ??= new RecordingPipeWriter(_inner.Writer, this);

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public void DisableBuffering() => _inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        MarkStarted();
        return _inner.StartAsync(cancellationToken);
    }

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        MarkStarted();
        BytesWritten += count ?? (new FileInfo(path).Length - offset);
        return _inner.SendFileAsync(path, offset, count, cancellationToken);
    }

    public Task CompleteAsync() => _inner.CompleteAsync();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Record(buffer);
        _inner.Stream.Write(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Record(buffer.Span);
        return _inner.Stream.WriteAsync(buffer, cancellationToken);
    }

    public override void Flush() => _inner.Stream.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.Stream.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Counts (and with <c>--har</c> keeps) body bytes the app wrote through the stream or the writer.</summary>
    internal void Record(ReadOnlySpan<byte> data)
    {
        MarkStarted();
        BytesWritten += data.Length;
        Capture?.Append(data);
    }

    private void MarkStarted()
    {
        if (StartedTimestamp == 0)
        {
            StartedTimestamp = Stopwatch.GetTimestamp();
        }
    }
}
