namespace ProxTunnel.Connection;

/// <summary>
/// One timer per connection for the waits the middleware bounds itself (first byte, CONNECT head, TLS first byte).
/// Stopped between waits, so a long keep-alive session never trips a deadline meant for a head.
/// </summary>
internal sealed class ConnectionDeadline : IDisposable
{
    private CancellationTokenSource _source = new();

    /// <summary>True when the last started wait ran out of time.</summary>
    public bool Expired => _source.IsCancellationRequested;

    public CancellationToken Start(TimeSpan timeout)
    {
        if (!_source.TryReset())
        {
            _source.Dispose();
            _source = new CancellationTokenSource();
        }

        _source.CancelAfter(timeout);
        return _source.Token;
    }

    public void Stop() => _source.CancelAfter(Timeout.InfiniteTimeSpan);

    public void Dispose() => _source.Dispose();
}
