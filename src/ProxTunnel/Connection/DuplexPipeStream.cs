using System.Buffers;
using System.IO.Pipelines;

namespace ProxTunnel.Connection;

/// <summary>
/// A stream over a connection's pipes for <see cref="System.Net.Security.SslStream"/>. Bytes the client sent together
/// with its CONNECT head stay in the pipe and reach the TLS layer from here. Supports zero-byte reads, so an idle
/// tunnel holds no read buffer.
/// </summary>
internal sealed class DuplexPipeStream(PipeReader input, PipeWriter output) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    // An idle TLS connection waits in SslStream's zero-byte read: a frame of its own, which holds only the read.
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => buffer.Length == 0 ? WaitForDataAsync(cancellationToken) : ReadCoreAsync(buffer, cancellationToken);

    private async ValueTask<int> WaitForDataAsync(CancellationToken cancellationToken) => Take(await input.ReadAsync(cancellationToken), default);

    private async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken) => Take(await input.ReadAsync(cancellationToken), buffer);

    /// <summary>Copies what fits into <paramref name="buffer"/> and takes it from the pipe; a zero-byte read takes nothing.</summary>
    private int Take(in ReadResult result, Memory<byte> buffer)
    {
        var data = result.Buffer;
        if (result.IsCanceled)
        {
            input.AdvanceTo(data.Start);
            throw new OperationCanceledException("The read was canceled.");
        }

        if (buffer.Length == 0)
        {
            // Zero-byte read: report that data is there without taking it.
            input.AdvanceTo(data.Start);
            return 0;
        }

        var count = (int)Math.Min(buffer.Length, data.Length);
        data.Slice(0, count).CopyTo(buffer.Span);
        input.AdvanceTo(data.GetPosition(count));
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var result = await output.WriteAsync(buffer, cancellationToken);
        if (result.IsCanceled)
        {
            throw new OperationCanceledException("The write was canceled.");
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await output.FlushAsync(cancellationToken);
    }

    public override void Flush() => throw new NotSupportedException("Synchronous I/O is not supported.");

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Synchronous I/O is not supported.");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Synchronous I/O is not supported.");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
