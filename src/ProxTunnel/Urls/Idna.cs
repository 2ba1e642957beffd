using System.Globalization;
using System.Text;

namespace ProxTunnel.Urls;

/// <summary>
/// Domain to ASCII for names that are not plain ASCII, or that hold punycode labels. The process runs with
/// InvariantGlobalization, where <see cref="IdnMapping"/> is a bare punycode codec without UTS #46 mapping (it would turn
/// <c>BÜCHER.de</c> into <c>xn--bcher-2pa.de</c>), so the mapping browsers rely on most is done here first: case
/// folding, full-width ASCII and the ideographic full stops. Code points UTS #46 disallows (controls, format characters,
/// spaces, private use, unassigned) are refused, as are punycode labels that do not decode to a lower-case U-label.
/// </summary>
internal static class Idna
{
    private static readonly IdnMapping Mapping = new();

    public static bool TryToAscii(ReadOnlySpan<byte> utf8, Span<byte> destination, out int written)
    {
        written = 0;
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(utf8);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        var mapped = Map(text);
        if (mapped is null)
        {
            return false;
        }

        var builder = new StringBuilder(mapped.Length + 16);
        foreach (var range in mapped.AsSpan().Split('.'))
        {
            var label = mapped[range];
            if (range.Start.Value > 0)
            {
                builder.Append('.');
            }

            if (!TryLabelToAscii(label, out var ascii))
            {
                return false;
            }

            builder.Append(ascii);
        }

        var result = builder.ToString();
        if (result.Length > destination.Length || !Ascii.IsValid(result))
        {
            return false;
        }

        written = Encoding.ASCII.GetBytes(result, destination);
        return true;
    }

    private static string? Map(string text)
    {
        var chars = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is '\u3002' or '\uFF0E' or '\uFF61')
            {
                chars.Append('.');
                continue;
            }

            if (c is >= '\uFF01' and <= '\uFF5E')
            {
                c = (char)(c - 0xFEE0);
            }

            if (IsIgnored(c))
            {
                continue;
            }

            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]) || !IsAllowed(CharUnicodeInfo.GetUnicodeCategory(text, i)))
                {
                    return null;
                }

                chars.Append(c).Append(text[++i]);
                continue;
            }

            if (char.IsLowSurrogate(c) || c >= 0x80 && (!IsAllowed(CharUnicodeInfo.GetUnicodeCategory(c)) || IsCompatibilityForm(c)))
            {
                return null;
            }

            chars.Append(c);
        }

        return chars.ToString().ToLowerInvariant();
    }

    /// <summary>Code points UTS #46 maps to nothing: soft hyphen, zero-width space, word joiner, BOM, variation selectors.</summary>
    private static bool IsIgnored(char c) => c is '\u00AD' or '\u034F' or (>= '\u180B' and <= '\u180F') or '\u200B' or '\u2060'
        or '\u2064' or (>= '\uFE00' and <= '\uFE0F') or '\uFEFF';

    /// <summary>Blocks of compatibility characters that UTS #46 maps through NFKC (circled and squared forms, ligatures,
    /// presentation forms, half-width forms, the replacement character). Without normalization data they cannot be
    /// mapped here, so names holding them, typed or punycode-encoded, are refused rather than guessed.</summary>
    private static bool IsCompatibilityForm(char c) => c is (>= '\u2100' and <= '\u218F') or (>= '\u2460' and <= '\u24FF') or (>= '\u3200' and <= '\u33FF')
        or (>= '\uFB00' and <= '\uFDFF') or (>= '\uFE10' and <= '\uFE6F') or (>= '\uFE70' and <= '\uFEFE') or (>= '\uFF00' and <= '\uFFFF');

    private static bool IsAllowed(UnicodeCategory category) => category is not (UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
        or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned or UnicodeCategory.Surrogate);

    private static bool TryLabelToAscii(string label, out string ascii)
    {
        ascii = label;
        if (label.Length == 0)
        {
            return true;
        }

        try
        {
            if (!Ascii.IsValid(label))
            {
                ascii = Mapping.GetAscii(label);
                return true;
            }

            if (!label.StartsWith("xn--", StringComparison.Ordinal))
            {
                return true;
            }

            // A punycode label must decode to a non-empty U-label that is already in mapped (lower-case) form and
            // encodes back to itself.
            var unicode = Mapping.GetUnicode(label);
            return unicode.Length > 0 && !Ascii.IsValid(unicode) && Map(unicode) == unicode
                && string.Equals(Mapping.GetAscii(unicode), label, StringComparison.Ordinal);
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
