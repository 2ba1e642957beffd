using System.Buffers;

namespace ProxTunnel.Rewriting;

/// <summary>Character classes of RFC 9110/9112.</summary>
internal static class HttpChars
{
    public const byte CR = (byte)'\r';
    public const byte LF = (byte)'\n';
    public const byte SP = (byte)' ';
    public const byte HT = (byte)'\t';

    /// <summary>tchar: what a method or header name may contain.</summary>
    public static readonly SearchValues<byte> Token = SearchValues.Create(
        "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>Bytes that may never appear in a header value: controls other than HT, and DEL.</summary>
    public static readonly SearchValues<byte> InvalidFieldValue = SearchValues.Create(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 127]);

    /// <summary><see cref="InvalidFieldValue"/> but CR and LF: what a header block may not hold besides its line ends.</summary>
    public static readonly SearchValues<byte> InvalidFieldValueButLineEnds = SearchValues.Create(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 127]);

    /// <summary>True when <paramref name="target"/> holds a byte that may never appear in a request target: controls,
    /// space, '#', DEL and non-ASCII (clients percent-encode; Kestrel refuses raw bytes above 0x7F too). Two plain
    /// vector searches: a set with non-ASCII members would take SearchValues' slower any-byte path.</summary>
    public static bool HasInvalidTargetByte(ReadOnlySpan<byte> target)
        => target.ContainsAnyExceptInRange((byte)0x21, (byte)0x7E) || target.Contains((byte)'#');

    public static bool IsToken(ReadOnlySpan<byte> span) => !span.IsEmpty && !span.ContainsAnyExcept(Token);

    public static bool IsOws(byte b) => b is SP or HT;

    /// <summary><paramref name="value"/> without the optional white space (SP, HT) around it.</summary>
    public static ReadOnlySpan<byte> TrimOws(ReadOnlySpan<byte> value)
    {
        var start = 0;
        var end = value.Length;
        while (start < end && IsOws(value[start]))
        {
            start++;
        }

        while (end > start && IsOws(value[end - 1]))
        {
            end--;
        }

        return value[start..end];
    }
}
