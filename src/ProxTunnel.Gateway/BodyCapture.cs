using System.Buffers;

namespace ProxTunnel.Gateway;

/// <summary>The first <see cref="Limit"/> bytes of a body, for the HAR file; what goes beyond is only counted.</summary>
internal sealed class BodyCapture : IDisposable
{
    /// <summary>Bodies are kept up to this size; a HAR of large downloads stays readable.</summary>
    public const int Limit = 64 * 1024;

    private byte[]? _buffer;

    public int Captured { get; private set; }

    public long Total { get; private set; }

    public bool IsTruncated => Total > Captured;

    public ReadOnlySpan<byte> Data => _buffer.AsSpan(0, Captured);

    public void Append(ReadOnlySpan<byte> data)
    {
        Total += data.Length;
        var room = Limit - Captured;
        if (room <= 0 || data.IsEmpty)
        {
            return;
        }

        _buffer ??= ArrayPool<byte>.Shared.Rent(Limit);
        var take = Math.Min(room, data.Length);
        data[..take].CopyTo(_buffer.AsSpan(Captured));
        Captured += take;
    }

    public void Dispose()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
    }
}
