using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace ProxTunnel.Resolvers;

/// <summary>Decodes a <c>Basic</c> credential into a user name usable as a path segment and a password.</summary>
internal static class BasicCredentials
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static readonly SearchValues<char> UnsafeInPrefix = SearchValues.Create(" \"#%/<>?\\^`{|}");

    /// <summary>False when the value is absent, not <c>Basic</c>, malformed, or names a user that cannot be a path segment.</summary>
    public static bool TryDecode(string? authorization, [NotNullWhen(true)] out string? user, [NotNullWhen(true)] out string? password)
    {
        user = null;
        password = null;
        if (authorization is null || !authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var encoded = authorization.AsSpan(6).Trim();
        var decoded = new byte[(encoded.Length / 4 * 3) + 3];
        if (!Convert.TryFromBase64Chars(encoded, decoded, out var length))
        {
            return false;
        }

        string text;
        try
        {
            text = StrictUtf8.GetString(decoded, 0, length);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var name = colon < 0 ? text : text[..colon];
        if (name.Length == 0 || name is "." or ".." || name.Any(c => c < 0x21 || c > 0x7E) || name.AsSpan().ContainsAny(UnsafeInPrefix))
        {
            return false;
        }

        user = name;
        password = colon < 0 ? "" : text[(colon + 1)..];
        return true;
    }
}
