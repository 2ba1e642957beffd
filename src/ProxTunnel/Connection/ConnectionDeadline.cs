namespace ProxTunnel.Connection;

/// <summary>
/// One timer per connection for the waits the middleware bounds itself (first byte, CONNECT head, TLS first byte).
/// Stopped between waits, so a long keep-alive session never trips a deadline meant for a head; a stopped deadline
/// holds no source or timer (issue 13.1: an idle connection keeps nothing it does not need).
/// </summary>
internal sealed class ConnectionDeadline : IDisposable
{
    private CancellationTokenSource? _source;
    private bool _expired;

    /// <summary>True when the last started wait ran out of time.</summary>
    public bool Expired => _expired || _source?.IsCancellationRequested == true;

    public CancellationToken Start(TimeSpan timeout)
    {
        _expired = false;
        if (_source is not null && !_source.TryReset())
        {
            _source.Dispose();
            _source = null;
        }

        _source ??= new CancellationTokenSource();
        _source.CancelAfter(timeout);
        return _source.Token;
    }

    public void Stop()
    {
        if (_source is null)
        {
            return;
        }

        _expired = _source.IsCancellationRequested;
        _source.Dispose();
        _source = null;
    }

    public void Dispose() => Stop();
}
