using System.Buffers;
using System.Text;

namespace ProxTunnel.Resolvers;

/// <summary>
/// Takes the prefix from Basic proxy credentials: user <c>alice</c> gets <c>/alice/http://…</c>. Without credentials the
/// client gets <c>407</c>. Inside a tunnel the CONNECT request's credentials count for every request.
/// </summary>
public sealed class ProxyAuthPrefixResolver : IProxyPrefixResolver
{
    /// <summary>The realm used when none is given.</summary>
    public const string DefaultRealm = "proxtunnel";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static readonly SearchValues<char> UnsafeInPrefix = SearchValues.Create(" \"#%/<>?\\^`{|}");

    /// <summary>Creates a resolver that challenges with <paramref name="realm"/>.</summary>
    public ProxyAuthPrefixResolver(string realm = DefaultRealm)
    {
        ArgumentException.ThrowIfNullOrEmpty(realm);
        if (realm.Contains('"', StringComparison.Ordinal) || realm.Contains('\\', StringComparison.Ordinal) || realm.Any(char.IsControl))
        {
            throw new ArgumentException("The realm may not contain quotes, backslashes or control characters.", nameof(realm));
        }

        Realm = realm;
    }

    /// <summary>The realm named in <c>Proxy-Authenticate</c>.</summary>
    public string Realm { get; }

    /// <inheritdoc />
    public ValueTask<ProxyPrefixResult> ResolveAsync(ProxyRequestContext request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var user = TryGetUserName(request.ProxyAuthorization);
        return ValueTask.FromResult(user is null ? ProxyPrefixResult.Challenge(Realm) : ProxyPrefixResult.WithPrefix("/" + user + "/"));
    }

    /// <summary>The user name of a <c>Basic</c> credential, or null when absent, malformed or unusable as a path segment.</summary>
    internal static string? TryGetUserName(string? authorization)
    {
        if (authorization is null || !authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var encoded = authorization.AsSpan(6).Trim();
        var decoded = new byte[(encoded.Length / 4 * 3) + 3];
        if (!Convert.TryFromBase64Chars(encoded, decoded, out var length))
        {
            return null;
        }

        string text;
        try
        {
            text = StrictUtf8.GetString(decoded, 0, length);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var user = colon < 0 ? text : text[..colon];
        if (user.Length == 0 || user is "." or ".." || user.Any(c => c < 0x21 || c > 0x7E) || user.AsSpan().ContainsAny(UnsafeInPrefix))
        {
            return null;
        }

        return user;
    }
}
