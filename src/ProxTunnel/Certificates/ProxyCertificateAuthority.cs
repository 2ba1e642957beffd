using System.Diagnostics.CodeAnalysis;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ProxTunnel.Certificates;

/// <summary>
/// The root CA that issues a certificate for every host a client tunnels to. Thread-safe; share one instance
/// between listeners.
/// </summary>
public sealed class ProxyCertificateAuthority : IDisposable
{
    /// <summary>Chromium's cap on leaf lifetimes (back-dating included) for roots it treats as known.</summary>
    internal static readonly TimeSpan MaxLeafValidity = TimeSpan.FromDays(199);

    /// <summary>A root this close to expiry is logged as a warning at every start.</summary>
    public static readonly TimeSpan RootExpiryWarning = TimeSpan.FromDays(90);

    private readonly CertificateAuthorityOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly RootAuthority _root;
    private readonly SslCertificateTrust? _chainTrust;
    private readonly OpenSslLeafSigner? _openSsl;
    private readonly HostCertificateFactory _factory;
    private readonly ILeafKeySource _keys;

    // Issuances for handshakes at once: half the cores, so the other half keeps serving cached hosts during a burst.
    // Never disposed: it holds no handle, and a handshake still waiting on it when the authority goes away must not throw
    // from its release.
    private readonly SemaphoreSlim _issuanceGate = new(Math.Max(1, Environment.ProcessorCount / 2));

    // Issuances under way by the host string asked for, so every handshake (and a CONNECT's preparation) for a new host
    // awaits one issuance rather than queueing for the gate and then for the slot's lock.
    private readonly ConcurrentDictionary<string, Task<SslStreamCertificateContext?>> _issuing = new(StringComparer.Ordinal);

    private readonly DiskCertificateCache? _disk;
    private readonly int _capacity;
    private readonly CertificateMetrics _metrics;

    // Slots by cache key (normalized or wildcard name); the LRU population.
    private readonly ConcurrentDictionary<string, CertificateCacheSlot> _slots = new(StringComparer.Ordinal);

    // Slots by the raw host string callers pass, so a hit costs one dictionary probe and no normalization.
    private readonly ConcurrentDictionary<string, CertificateCacheSlot> _lookup = new(StringComparer.Ordinal);
    private readonly Lock _trimLock = new();
    private int _slotCount;
    private long _useClock;
    private long _issuedCount;
    private bool _disposed;

    /// <summary>Loads the root from <see cref="CertificateAuthorityOptions.RootCertificatePath"/>, creating it when the file is missing.</summary>
    /// <param name="options">Root and host certificate settings; copied, so later changes have no effect.</param>
    /// <param name="loggerFactory">Where the authority logs; none when null.</param>
    /// <param name="timeProvider">Clock for validity periods and renewal; the system clock when null.</param>
    /// <param name="meterFactory">The app's meter factory (from its service provider), so the <c>proxtunnel.certificates.*</c>
    /// counters are scoped to that app; a process-wide <c>ProxTunnel</c> meter when null.</param>
    public ProxyCertificateAuthority(
        CertificateAuthorityOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        Validate(_options);
        _logger = loggerFactory?.CreateLogger<ProxyCertificateAuthority>() ?? NullLogger<ProxyCertificateAuthority>.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _capacity = _options.CacheSize;
        _metrics = CertificateMetrics.For(meterFactory);

        var path = Path.GetFullPath(_options.RootCertificatePath);
        var now = _time.GetUtcNow();
        _root = RootAuthority.LoadOrCreate(path, _options, now);
        LogRoot(_logger, _root, now);

        _openSsl = OperatingSystem.IsLinux() ? OpenSslLeafSigner.TryCreate(_root) : null;
        _factory = new HostCertificateFactory(_root, _options.LeafLifetime, _openSsl);

        // With OpenSSL the chain each TLS context builds for its leaf is anchored where it costs least and finds no issuer
        // (see LeafChainTrust); the context sends the leaf alone either way. Elsewhere the platform builds its own chains,
        // and a context there may not trim the root it would then find.
        _chainTrust = OperatingSystem.IsLinux() || OperatingSystem.IsFreeBSD() ? LeafChainTrust.Instance : null;
        var keyMode = _options.LeafKeyMode;
        if (!string.IsNullOrWhiteSpace(_options.CertificateCacheDirectory))
        {
            _disk = new DiskCertificateCache(_options.CertificateCacheDirectory, _root, _options.RenewBefore, _logger);

            // Cached files hold their key: one process key would be written into every file and outlive the process.
            keyMode = keyMode == LeafKeyMode.ProcessKey ? LeafKeyMode.Pool : keyMode;
        }

        _keys = ILeafKeySource.Create(keyMode, _options.LeafKeyAlgorithm, _options.LeafKeyPoolSize);
    }

    /// <summary>Full path of the root file.</summary>
    public string RootCertificatePath => _root.Path;

    /// <summary>The root certificate without its private key. Shared: do not dispose it.</summary>
    public X509Certificate2 RootCertificate => _root.Certificate;

    /// <summary>SHA-256 fingerprint of the root, upper-case hex pairs joined by colons.</summary>
    public string RootSha256Fingerprint => _root.Sha256Fingerprint;

    /// <summary>True when this instance created the root file.</summary>
    public bool RootWasCreated => _root.Created;

    /// <summary>Number of host certificates this instance signed (cache misses, renewals and <see cref="IssueCertificatePem"/>).</summary>
    internal long IssuedCount => Interlocked.Read(ref _issuedCount);

    /// <summary>Number of cache keys currently held.</summary>
    internal int CachedCount => Volatile.Read(ref _slotCount);

    /// <summary>A certificate (with private key) for a DNS name, IDN, IPv4 or IPv6 literal; issued once and cached.
    /// The instance is shared by the cache: do not dispose it.</summary>
    public X509Certificate2 GetHostCertificate(string host) => GetEntry(host).Certificate;

    /// <summary>The cached TLS context for a host, so a handshake builds nothing. Throws <see cref="ArgumentException"/>
    /// for a string that cannot be a host name.</summary>
    public SslStreamCertificateContext GetCertificateContext(string host) => GetEntry(host).Context;

    /// <summary>Like <see cref="GetCertificateContext"/>, but returns false for a string that cannot be a host name
    /// (a client's SNI can be anything), so a TLS server can fall back to another name.</summary>
    public bool TryGetCertificateContext(string? host, [NotNullWhen(true)] out SslStreamCertificateContext? context)
    {
        context = null;
        if (string.IsNullOrWhiteSpace(host))
        {
            return false;
        }

        try
        {
            context = GetEntry(host).Context;
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Issues a fresh certificate outside the cache and returns its private key and certificate as PEM.</summary>
    public string IssueCertificatePem(string host, bool wildcard)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var target = HostNames.Resolve(host, wildcard);
        var key = _keys.Take();
        if (key.IsShared)
        {
            // The process key never leaves the process: an exported certificate gets a key of its own.
            key = LeafKey.Create(_options.LeafKeyAlgorithm);
        }

        using (key)
        using (var certificate = IssueCore(target, _time.GetUtcNow(), key))
        {
            var pem = KeyAndCertificatePem.Encode(key.Algorithm, certificate.RawData);
            try
            {
                return Encoding.UTF8.GetString(pem);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(pem);
            }
        }
    }

    /// <summary>The root certificate for clients to trust; never contains the private key.</summary>
    public byte[] ExportRoot(CertificateExportFormat format)
    {
        var der = _root.Certificate.RawData;
        return format switch
        {
            CertificateExportFormat.Pem => Encoding.ASCII.GetBytes(PemEncoding.WriteString("CERTIFICATE", der) + "\n"),
            CertificateExportFormat.Der => der,
            CertificateExportFormat.Pkcs12 => ExportCertificateOnlyPkcs12(der),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown export format."),
        };
    }

    /// <summary>Creates a root file. With <paramref name="force"/> an existing file is first renamed to <c>PATH.bak-TIMESTAMP</c>.</summary>
    public static string InitializeRoot(CertificateAuthorityOptions options, bool force, TimeProvider? timeProvider = null)
        => InitializeRoot(options, force, timeProvider, logger: null);

    /// <summary><see cref="InitializeRoot(CertificateAuthorityOptions, bool, TimeProvider?)"/> with logging.</summary>
    internal static string InitializeRoot(CertificateAuthorityOptions options, bool force, TimeProvider? timeProvider, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        var snapshot = options.Clone();
        Validate(snapshot);
        logger ??= NullLogger.Instance;
        var now = (timeProvider ?? TimeProvider.System).GetUtcNow();
        var path = Path.GetFullPath(snapshot.RootCertificatePath);
        if (File.Exists(path))
        {
            if (!force)
            {
                throw new InvalidOperationException($"The root CA file '{path}' already exists; use force to replace it (the old file is kept as a backup).");
            }

            var backup = $"{path}.bak-{now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}";
            for (var n = 1; File.Exists(backup); n++)
            {
                backup = $"{path}.bak-{now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}-{n}";
            }

            // A rename, never a delete: the old root may still be trusted by clients someone wants to clean up.
            File.Move(path, backup, overwrite: false);
            CertificateAuthorityLog.RootBackedUp(logger, path, backup);
        }

        RootAuthority.CreateFile(path, snapshot, now);
        using var root = RootAuthority.Load(path);
        var notAfter = root.Certificate.NotAfter.ToUniversalTime();
        CertificateAuthorityLog.RootCreated(logger, path, root.Sha256Fingerprint, notAfter);
        return path;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        // Leaf certificates are not disposed: TLS handshakes running on other threads may still hold their contexts.
        _slots.Clear();
        _lookup.Clear();
        _keys.Dispose();
        _openSsl?.Dispose();
        _root.Dispose();
    }

    /// <summary>The key source (tests and benchmarks look at the pool).</summary>
    internal ILeafKeySource LeafKeys => _keys;

    /// <summary>Signs a certificate over <paramref name="key"/> without touching the cache (<see cref="IssueCertificatePem"/>, misses).</summary>
    internal X509Certificate2 IssueCore(CertificateTarget target, DateTimeOffset now, LeafKey key)
    {
        var issued = _factory.Issue(target, now, key, CertificateKeys.NewSerialNumber());
        Interlocked.Increment(ref _issuedCount);
        _metrics.Issued.Add(1);
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            var notAfter = issued.NotAfter.ToUniversalTime();
            CertificateAuthorityLog.CertificateIssued(_logger, target.Key, issued.SerialNumber, notAfter);
        }

        return issued;
    }

    /// <summary>
    /// For a TLS handshake: the cached context at once; on a miss the handshake waits, holding no thread, for the one
    /// issuance of that host (its own, or one a CONNECT started, see <see cref="PrepareForHandshake"/>). Null for a
    /// string that cannot be a host name (a client's SNI can be anything).
    /// </summary>
    internal ValueTask<SslStreamCertificateContext?> FindCertificateContextAsync(string? host, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(host))
        {
            return ValueTask.FromResult<SslStreamCertificateContext?>(null);
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        if (TryGetCached(host, out var entry))
        {
            return ValueTask.FromResult<SslStreamCertificateContext?>(entry.Context);
        }

        // A handshake given up stops waiting; the issuance goes on for any other that waits for it, and for the cache.
        return cancellationToken.IsCancellationRequested
            ? ValueTask.FromCanceled<SslStreamCertificateContext?>(cancellationToken)
            : new ValueTask<SslStreamCertificateContext?>(IssueOnce(host).WaitAsync(cancellationToken));
    }

    /// <summary>
    /// Starts issuing for a host a client has just tunnelled to, so the certificate is made while the 200 reaches the
    /// client and its hello comes back, not after the hello. Only when an issuance slot is free at this moment: ahead of
    /// time is worth nothing while others queue (a burst of new hosts), and CONNECTs alone can never queue issuances.
    /// </summary>
    internal void PrepareForHandshake(string host)
    {
        if (_disposed || TryPeekCached(host, out _, out _) || _issuing.ContainsKey(host) || !_issuanceGate.Wait(0))
        {
            return;
        }

        // On a pool thread, holding the slot: the CONNECT's own path (its 200 on the way out, the wait for the hello)
        // goes on at once.
        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Authority.IssueOnce(state.Host, slotHeld: true),
            (Authority: this, Host: host), preferLocal: false);
    }

    /// <summary>The one issuance of <paramref name="host"/> under way, started when there is none.</summary>
    /// <param name="host">The host string asked for.</param>
    /// <param name="slotHeld">The caller holds an issuance slot, which this gives back.</param>
    private Task<SslStreamCertificateContext?> IssueOnce(string host, bool slotHeld = false)
    {
        var issuance = new TaskCompletionSource<SslStreamCertificateContext?>();
        var running = _issuing.GetOrAdd(host, issuance.Task);
        if (running == issuance.Task)
        {
            _ = IssueAsync(host, issuance, slotHeld);
        }
        else if (slotHeld)
        {
            _issuanceGate.Release();
        }

        return running;
    }

    private async Task IssueAsync(string host, TaskCompletionSource<SslStreamCertificateContext?> issuance, bool slotHeld)
    {
        // A burst of new hosts would otherwise put an issuance on every pool thread, and handshakes for cached hosts
        // would queue behind them; bounded, the waiting handshakes hold no thread and the other cores stay free.
        if (!slotHeld)
        {
            await _issuanceGate.WaitAsync().ConfigureAwait(false);
        }

        SslStreamCertificateContext? context = null;
        Exception? failure = null;
        try
        {
            context = GetEntrySlow(host).Context;
        }
        catch (ArgumentException)
        {
        }
#pragma warning disable CA1031 // Handed to every handshake waiting for it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failure = ex;
        }
        finally
        {
            _issuanceGate.Release();
        }

        // The entry is cached by now, so a handshake that misses this dictionary finds it there. The waiting handshakes
        // go on from here, with the slot already given back.
        _issuing.TryRemove(KeyValuePair.Create(host, issuance.Task));
        if (failure is null)
        {
            issuance.SetResult(context);
        }
        else
        {
            // Logged here once, and observed: an issuance started ahead may have no handshake left to await it.
            CertificateAuthorityLog.IssuanceFailed(_logger, host, failure);
            issuance.SetException(failure);
            _ = issuance.Task.Exception;
        }
    }

    private IssuedCertificate GetEntry(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return TryGetCached(host, out var entry) ? entry : GetEntrySlow(host);
    }

    /// <summary>Hot path: one lock-free probe with the caller's own string, one clock read, one stamp; no allocation.</summary>
    private bool TryGetCached(string host, [NotNullWhen(true)] out IssuedCertificate? entry)
    {
        if (TryPeekCached(host, out var slot, out entry))
        {
            slot.LastUse = Interlocked.Increment(ref _useClock);
            _metrics.CacheHits.Add(1);
            return true;
        }

        return false;
    }

    /// <summary>The current entry cached for this string and its slot, without counting a use.</summary>
    private bool TryPeekCached(string host, [NotNullWhen(true)] out CertificateCacheSlot? slot, [NotNullWhen(true)] out IssuedCertificate? entry)
    {
        if (_lookup.TryGetValue(host, out slot) && slot.Current is { } current && _time.GetUtcNow().UtcTicks < current.RenewAtUtcTicks)
        {
            entry = current;
            return true;
        }

        entry = null;
        return false;
    }

    private IssuedCertificate GetEntrySlow(string host)
    {
        var target = HostNames.Resolve(host, _options.UseWildcardCertificates);
        var slot = GetOrAddSlot(target.Key);
        var entry = slot.Current;
        if (entry is null || _time.GetUtcNow().UtcTicks >= entry.RenewAtUtcTicks)
        {
            lock (slot.IssueLock)
            {
                // Whoever held the lock before us may have issued it already: exactly one issuance per key.
                entry = slot.Current;
                var now = _time.GetUtcNow();
                if (entry is null || now.UtcTicks >= entry.RenewAtUtcTicks)
                {
                    entry = CreateEntry(target, now, tryDisk: entry is null);
                    slot.Current = entry;
                }
                else
                {
                    _metrics.CacheHits.Add(1);
                }
            }
        }
        else
        {
            _metrics.CacheHits.Add(1);
        }

        slot.LastUse = Interlocked.Increment(ref _useClock);
        slot.AddAlias(host, _lookup);
        TrimIfNeeded();
        return entry;
    }

    private CertificateCacheSlot GetOrAddSlot(string key)
    {
        if (_slots.TryGetValue(key, out var slot))
        {
            return slot;
        }

        var created = new CertificateCacheSlot(key, Interlocked.Increment(ref _useClock));
        if (_slots.TryAdd(key, created))
        {
            Interlocked.Increment(ref _slotCount);
            _metrics.Cached.Add(1);
            return created;
        }

        return _slots.TryGetValue(key, out slot) ? slot : GetOrAddSlot(key);
    }

    private IssuedCertificate CreateEntry(CertificateTarget target, DateTimeOffset now, bool tryDisk)
    {
        X509Certificate2? certificate = tryDisk ? _disk?.TryLoad(target.Key, now) : null;
        if (certificate is null)
        {
            using var key = _keys.Take();
            certificate = IssueCore(target, now, key);
            _disk?.Save(target.Key, key.Algorithm, certificate);
        }

        if (OperatingSystem.IsWindows())
        {
            // SChannel cannot use ephemeral (CNG in-memory) keys for a server handshake; a PKCS#12 round trip gives
            // the key a provider it accepts. OpenSSL (Linux) and Apple use the in-memory key as is.
            using var ephemeral = certificate;
            certificate = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
        }

        // The leaf alone is sent: clients that trust the root have it already (TLS lets the root be omitted).
        // offline: no OCSP or AIA fetches.
        var context = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true, _chainTrust);
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        return new IssuedCertificate(certificate, context, notAfter - _options.RenewBefore);
    }

    private void TrimIfNeeded()
    {
        if (Volatile.Read(ref _slotCount) <= _capacity || !_trimLock.TryEnter())
        {
            return;
        }

        try
        {
            // Evict down to 15/16 of the capacity so the sort is paid once per capacity/16 misses, not on each.
            var target = _capacity - (_capacity / 16);
            var excess = Volatile.Read(ref _slotCount) - target;
            if (excess <= 0)
            {
                return;
            }

            var slots = _slots.Values.ToArray();
            Array.Sort(slots, static (a, b) => a.LastUse.CompareTo(b.LastUse));
            foreach (var victim in slots.AsSpan(0, Math.Min(excess, slots.Length)))
            {
                if (_slots.TryRemove(KeyValuePair.Create(victim.Key, victim)))
                {
                    Interlocked.Decrement(ref _slotCount);
                    _metrics.Cached.Add(-1);
                    victim.Evict(_lookup);
                }
            }
        }
        finally
        {
            _trimLock.Exit();
        }
    }

    private static byte[] ExportCertificateOnlyPkcs12(byte[] der)
    {
        // A fresh instance without key, so the file can only hold the certificate. 3DES/SHA-1 is the one PBE scheme
        // that Windows, macOS, Android, Firefox and OpenSSL 3 (without its legacy provider) all import; it protects
        // nothing secret here, the certificate is public.
        using var certificate = X509CertificateLoader.LoadCertificate(der);
        return certificate.ExportPkcs12(Pkcs12ExportPbeParameters.Pkcs12TripleDesSha1, string.Empty);
    }

    private static void LogRoot(ILogger logger, RootAuthority root, DateTimeOffset now)
    {
        var notAfter = root.Certificate.NotAfter.ToUniversalTime();
        if (root.Created)
        {
            CertificateAuthorityLog.RootCreated(logger, root.Path, root.Sha256Fingerprint, notAfter);
        }
        else
        {
            CertificateAuthorityLog.RootLoaded(logger, root.Path, root.Sha256Fingerprint, notAfter);
        }

        var left = root.NotAfter - now;
        if (left < RootExpiryWarning)
        {
            CertificateAuthorityLog.RootNearExpiry(logger, root.Path, notAfter, (int)Math.Floor(left.TotalDays));
        }
    }

    private static void Validate(CertificateAuthorityOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.RootCertificatePath))
        {
            throw new ArgumentException("RootCertificatePath must be set.", nameof(options));
        }

        if (string.IsNullOrWhiteSpace(options.RootCommonName))
        {
            throw new ArgumentException("RootCommonName must be set.", nameof(options));
        }

        if (options.RootLifetime <= HostCertificateFactory.BackDating)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.RootLifetime, "RootLifetime must be longer than one day.");
        }

        if (options.LeafLifetime <= TimeSpan.Zero || options.LeafLifetime + HostCertificateFactory.BackDating > MaxLeafValidity)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), options.LeafLifetime, $"LeafLifetime must be positive and, with the one day of back-dating, at most {MaxLeafValidity.TotalDays} days.");
        }

        if (options.RenewBefore < TimeSpan.Zero || options.RenewBefore >= options.LeafLifetime)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.RenewBefore, "RenewBefore must be between zero and LeafLifetime.");
        }

        if (options.CacheSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.CacheSize, "CacheSize must be at least 1.");
        }

        if (options.LeafKeyPoolSize < 1 || !Enum.IsDefined(options.LeafKeyMode))
        {
            throw new ArgumentOutOfRangeException(nameof(options), "LeafKeyPoolSize must be at least 1 and LeafKeyMode known.");
        }

        if (!Enum.IsDefined(options.RootKeyAlgorithm) || !Enum.IsDefined(options.LeafKeyAlgorithm))
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Unknown key algorithm.");
        }
    }
}
