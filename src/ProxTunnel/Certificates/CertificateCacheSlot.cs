using System.Collections.Concurrent;

namespace ProxTunnel.Certificates;

/// <summary>
/// One cache key (exact or wildcard name). Issuance runs under <see cref="IssueLock"/>, so concurrent requests for a new
/// host wait for a single issuance; readers take <see cref="Current"/> without locking.
/// </summary>
internal sealed class CertificateCacheSlot(string key, long lastUse)
{
    /// <summary>Bound on the raw spellings (case variants, trailing dots, sibling hosts of a wildcard) remembered per slot.</summary>
    internal const int MaxAliases = 64;

    private readonly List<string> _aliases = [];
    private IssuedCertificate? _current;
    private long _lastUse = lastUse;
    private bool _evicted;

    internal string Key { get; } = key;

    internal object IssueLock { get; } = new();

    internal IssuedCertificate? Current
    {
        get => Volatile.Read(ref _current);
        set => Volatile.Write(ref _current, value);
    }

    /// <summary>Use stamp for the LRU order: a larger value was used more recently.</summary>
    internal long LastUse
    {
        get => Volatile.Read(ref _lastUse);
        set => Volatile.Write(ref _lastUse, value);
    }

    /// <summary>Remembers <paramref name="host"/> as a raw spelling that maps to this slot, unless the slot was evicted.</summary>
    internal void AddAlias(string host, ConcurrentDictionary<string, CertificateCacheSlot> lookup)
    {
        lock (_aliases)
        {
            if (_evicted || _aliases.Count >= MaxAliases || _aliases.Contains(host))
            {
                return;
            }

            _aliases.Add(host);
            lookup[host] = this;
        }
    }

    /// <summary>Removes the slot's spellings from <paramref name="lookup"/>; later <see cref="AddAlias"/> calls do nothing.</summary>
    internal void Evict(ConcurrentDictionary<string, CertificateCacheSlot> lookup)
    {
        lock (_aliases)
        {
            _evicted = true;
            foreach (var alias in _aliases)
            {
                // Only when still ours: a newer slot for the same key may own the spelling by now.
                lookup.TryRemove(KeyValuePair.Create(alias, this));
            }

            _aliases.Clear();
        }
    }
}
