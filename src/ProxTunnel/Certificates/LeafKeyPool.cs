using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace ProxTunnel.Certificates;

/// <summary>
/// <see cref="LeafKeyMode.Pool"/>: at most <c>capacity</c> pre-generated keys, each handed out once. Taking one below
/// half full starts a refill on the thread pool (one at a time), so key generation stays off the handshake path; an
/// empty pool never makes a caller wait: it generates the key itself, as before pooling.
/// </summary>
internal sealed class LeafKeyPool : ILeafKeySource
{
    private const int MaxRsaCapacity = 8;

    private readonly ConcurrentQueue<LeafKey> _keys = new();
    private readonly CertificateKeyAlgorithm _algorithm;
    private readonly int _capacity;
    private int _count;
    private int _refilling;
    private long _misses;
    private volatile bool _disposed;

    internal LeafKeyPool(CertificateKeyAlgorithm algorithm, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _algorithm = algorithm;

        // An RSA key takes 50-200 ms to make: a small pool still absorbs bursts without seconds of background CPU.
        _capacity = algorithm == CertificateKeyAlgorithm.EcdsaP256 ? capacity : Math.Min(capacity, MaxRsaCapacity);
        RefillIfAtMost(_capacity / 2);
    }

    /// <summary>Keys ready now (tests and benchmarks).</summary>
    internal int Count => Volatile.Read(ref _count);

    /// <summary>Keys generated inline because the pool was empty.</summary>
    internal long Misses => Interlocked.Read(ref _misses);

    public LeafKey Take()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_keys.TryDequeue(out var key))
        {
            Interlocked.Decrement(ref _count);
            RefillIfAtMost(_capacity / 2);
            return key;
        }

        Interlocked.Increment(ref _misses);
        RefillIfAtMost(_capacity / 2);
        return LeafKey.Create(_algorithm);
    }

    /// <summary>Fills the pool on the calling thread (benchmarks, to start an iteration full).</summary>
    internal void Fill()
    {
        // At most one pool's worth per call, even while takers keep draining it.
        for (var made = 0; made < _capacity && !_disposed && Volatile.Read(ref _count) < _capacity; made++)
        {
            Add(LeafKey.Create(_algorithm));
        }
    }

    public void Dispose()
    {
        _disposed = true;
        Drain();
    }

    /// <summary>Starts a refill on the thread pool when at most <paramref name="threshold"/> keys are ready and none runs.</summary>
    private void RefillIfAtMost(int threshold)
    {
        if (_disposed || Volatile.Read(ref _count) > threshold || Interlocked.CompareExchange(ref _refilling, 1, 0) != 0)
        {
            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static pool => pool.Refill(), this, preferLocal: false);
    }

    private void Refill()
    {
        try
        {
            Fill();
        }
        finally
        {
            Volatile.Write(ref _refilling, 0);
        }

        // Takes during the fill (it makes at most one pool's worth) or between its last check and the flag reset saw a
        // refill running and did not start one: go on until the pool is full, or it would settle anywhere above half.
        RefillIfAtMost(_capacity - 1);
    }

    private void Add(LeafKey key)
    {
        _keys.Enqueue(key);
        Interlocked.Increment(ref _count);
        if (_disposed)
        {
            // Dispose ran while this key was being made: do not leave it in a dead pool.
            Drain();
        }
    }

    private void Drain()
    {
        while (_keys.TryDequeue(out var key))
        {
            Interlocked.Decrement(ref _count);
            key.Dispose();
        }
    }
}
