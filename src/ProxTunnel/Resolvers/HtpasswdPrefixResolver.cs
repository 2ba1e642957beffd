using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace ProxTunnel.Resolvers;

/// <summary>
/// Like <see cref="ProxyAuthPrefixResolver"/> (user <c>alice</c> gets <c>/alice/http://…</c>), but the Basic proxy
/// credentials must match an htpasswd file with bcrypt hashes (<c>htpasswd -B</c>); missing, unknown or wrong
/// credentials get <c>407</c>. The file is read again when its modification time or size changes; a version that does not
/// parse keeps the previous users in force. Successful checks are remembered (keyed by a SHA-256 of the credential, for
/// the file version that passed them) so bcrypt's cost is paid once per credential, not per request.
/// </summary>
public sealed class HtpasswdPrefixResolver : IProxyPrefixResolver
{
    // Bounds the memory a stream of distinct valid credentials can take; past it, checks simply are not remembered.
    private const int MaxRemembered = 4096;

    private readonly ProxyAuthPrefixResolver _challenge;
    private readonly object _reloadLock = new();
    private State _state;

    /// <summary>Loads <paramref name="path"/> and challenges with <paramref name="realm"/>.</summary>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="InvalidDataException">A line is not <c>user:bcrypt-hash</c>.</exception>
    public HtpasswdPrefixResolver(string path, string realm = ProxyAuthPrefixResolver.DefaultRealm)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _challenge = new ProxyAuthPrefixResolver(realm);
        Path = System.IO.Path.GetFullPath(path);
        _state = new State(HtpasswdFile.Load(Path));
    }

    /// <summary>The htpasswd file, as a full path.</summary>
    public string Path { get; }

    /// <summary>The realm named in <c>Proxy-Authenticate</c>.</summary>
    public string Realm => _challenge.Realm;

    /// <summary>Number of users in the version of the file in force.</summary>
    public int UserCount => _state.File.Count;

    /// <inheritdoc />
    public ValueTask<ProxyPrefixResult> ResolveAsync(ProxyRequestContext request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var authorization = request.ProxyAuthorization;
        if (authorization is null)
        {
            return ValueTask.FromResult(ProxyPrefixResult.Challenge(Realm));
        }

        var state = Current();
        var key = KeyOf(authorization);
        if (state.Remembered.TryGetValue(key, out var prefix))
        {
            return ValueTask.FromResult(ProxyPrefixResult.WithPrefix(prefix));
        }

        if (!BasicCredentials.TryDecode(authorization, out var user, out var password) || !state.File.Verify(user, password))
        {
            return ValueTask.FromResult(ProxyPrefixResult.Challenge(Realm));
        }

        prefix = "/" + user + "/";
        if (state.Remembered.Count < MaxRemembered)
        {
            state.Remembered.TryAdd(key, prefix);
        }

        return ValueTask.FromResult(ProxyPrefixResult.WithPrefix(prefix));
    }

    /// <summary>The state for the file as it is now: one stat per call, a reload only when it changed.</summary>
    private State Current()
    {
        var state = Volatile.Read(ref _state);
        var info = new FileInfo(Path);
        var stamp = HtpasswdFile.FileStamp.Of(info);
        if (!info.Exists || stamp == state.Stamp)
        {
            // A file that disappeared (mid-rename, say) keeps the last users in force rather than locking everyone out.
            return state;
        }

        lock (_reloadLock)
        {
            if (!ReferenceEquals(state, _state))
            {
                return _state;
            }

            try
            {
                state = new State(HtpasswdFile.Load(Path));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                // Half-written or broken: keep the previous users, and do not parse this version again on every request;
                // the next change is tried again.
                state = new State(state.File, stamp);
            }

            Volatile.Write(ref _state, state);
            return state;
        }
    }

    private static UInt128 KeyOf(string authorization)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(MemoryMarshal.AsBytes(authorization.AsSpan()), hash);
        return MemoryMarshal.Read<UInt128>(hash);
    }

    /// <summary>A version of the file and the credentials it has already accepted.</summary>
    private sealed class State(HtpasswdFile file, HtpasswdFile.FileStamp stamp)
    {
        public State(HtpasswdFile file)
            : this(file, file.Stamp)
        {
        }

        public HtpasswdFile File { get; } = file;

        /// <summary>The version of the file this state stands for (differs from <see cref="File"/>'s after a failed reload).</summary>
        public HtpasswdFile.FileStamp Stamp { get; } = stamp;

        public ConcurrentDictionary<UInt128, string> Remembered { get; } = new();
    }
}
