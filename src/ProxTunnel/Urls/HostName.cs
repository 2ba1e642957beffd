using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace ProxTunnel.Urls;

/// <summary>
/// A host in the one canonical form every route uses (CONNECT, absolute-form, SNI, the certificate authority, options,
/// the gateway's command line): DNS names lower-case ASCII with IDNs as punycode and no trailing dot; IPv4 in dotted
/// decimal whatever form a browser accepts (<c>2130706433</c>, <c>0x7f.0.0.1</c>, <c>0177.1</c>); IPv6 compressed
/// lower-case <b>in brackets</b> (<c>[::1]</c>), so <see cref="Value"/> can be put into a URL or a Host header as it is.
/// </summary>
/// <remarks>
/// Follows the WHATWG URL Standard's host parser for special schemes (percent-decoding, IDNA, forbidden code points,
/// the IPv4 parser for hosts that end in a number) with three deliberate differences: one trailing dot is dropped
/// (<c>example.com.</c> and <c>example.com</c> are one host); DNS labels may hold only letters, digits, <c>-</c> and
/// <c>_</c>, must be non-empty and at most 63 characters, and the name at most 253 (WHATWG also admits punctuation
/// such as <c>!$&amp;'()*+,;=</c>, which cannot name a certificate or a DNS record); and, since the process runs with
/// InvariantGlobalization (no ICU), IDNA mapping is limited to case folding and full-width ASCII forms before punycode
/// encoding (browsers send A-labels on the wire, so this only touches names typed by hand).
/// </remarks>
internal sealed class HostName : IEquatable<HostName>
{
    /// <summary>Room enough for any canonical host (a DNS name is at most 253 bytes).</summary>
    public const int MaxLength = 253;

    /// <summary>Longer inputs are refused before any work: percent-encoding triples a 253-byte name at most.</summary>
    private const int MaxInputLength = 3 * MaxLength + 3;

    private static readonly SearchValues<byte> CanonicalDnsChars = SearchValues.Create("-._0123456789abcdefghijklmnopqrstuvwxyz"u8);

    private HostName(string value, HostKind kind)
    {
        Value = value;
        Kind = kind;
    }

    /// <summary>The canonical text: <c>example.com</c>, <c>127.0.0.1</c> or <c>[::1]</c>.</summary>
    public string Value { get; }

    public HostKind Kind { get; }

    /// <summary>Parses a host as a browser would (see the type's remarks); IPv6 needs its brackets. Null, empty or
    /// surrounding white space is not a host.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out HostName? host)
    {
        host = null;
        if (string.IsNullOrEmpty(text) || text.Length > MaxInputLength)
        {
            return false;
        }

        var utf8 = Encoding.UTF8.GetByteCount(text);
        if (utf8 > MaxInputLength * 3)
        {
            return false;
        }

        Span<byte> input = stackalloc byte[utf8];
        Encoding.UTF8.GetBytes(text, input);
        Span<byte> output = stackalloc byte[MaxLength];
        if (!TryCanonicalize(input, output, out var written, out var kind))
        {
            return false;
        }

        host = new HostName(Encoding.ASCII.GetString(output[..written]), kind);
        return true;
    }

    /// <summary>Like <see cref="TryParse"/>, throwing <see cref="ArgumentException"/> naming the text.</summary>
    public static HostName Parse(string text, string? paramName = null)
        => TryParse(text, out var host) ? host : throw new ArgumentException($"'{text}' is not a host name.", paramName ?? nameof(text));

    /// <summary>
    /// Writes the canonical form of a host taken from a request (bytes as received: ASCII, percent-encoded or UTF-8;
    /// IPv6 in brackets) into <paramref name="destination"/> (at least <see cref="MaxLength"/> bytes: an IPv4 form can
    /// grow, <c>0x</c> becomes <c>0.0.0.0</c>). Allocation-free for ASCII names and IPv4.
    /// </summary>
    public static bool TryCanonicalize(ReadOnlySpan<byte> input, Span<byte> destination, out int written, out HostKind kind)
    {
        written = 0;
        kind = HostKind.Dns;
        if (input.IsEmpty || input.Length > MaxInputLength)
        {
            return false;
        }

        if (input[0] == (byte)'[')
        {
            kind = HostKind.IPv6;
            Span<byte> address = stackalloc byte[16];
            if (input[^1] != (byte)']' || !IPv6Literal.TryParse(input[1..^1], address))
            {
                return false;
            }

            written = IPv6Literal.Format(address, destination);
            return true;
        }

        Span<byte> decoded = stackalloc byte[input.Length];
        scoped var source = input;
        if (input.IndexOf((byte)'%') >= 0)
        {
            source = decoded[..PercentDecode(input, decoded)];
        }

        Span<byte> ascii = stackalloc byte[MaxLength + 1];
        int asciiLength;
        if (Ascii.IsValid(source) && source.Length <= ascii.Length)
        {
            Ascii.ToLower(source, ascii, out asciiLength);
            // Punycode labels must be valid ones; Idna reads its input into a string before writing, so in place is safe.
            if (ascii[..asciiLength].IndexOf("xn--"u8) >= 0 && !Idna.TryToAscii(ascii[..asciiLength], ascii, out asciiLength))
            {
                return false;
            }
        }
        else if (!Idna.TryToAscii(source, ascii, out asciiLength))
        {
            return false;
        }

        return TryFinish(ascii[..asciiLength], destination, out written, out kind);
    }

    /// <summary>The canonical length of a host that <see cref="TryCanonicalize"/> accepts; -1 when it refuses it.</summary>
    public static int CanonicalLength(ReadOnlySpan<byte> input) => IsCanonical(input) ? input.Length : CanonicalLengthSlow(input);

    /// <summary>Writes the canonical host, or returns -1 (and writes nothing useful) when it is not a host.</summary>
    public static int WriteCanonical(ReadOnlySpan<byte> input, Span<byte> destination)
    {
        if (IsCanonical(input))
        {
            input.CopyTo(destination);
            return input.Length;
        }

        return WriteCanonicalSlow(input, destination);
    }

    // The slow paths live in methods of their own so the fast path's frame has no stack buffer to zero.
    private static int CanonicalLengthSlow(ReadOnlySpan<byte> input)
    {
        Span<byte> output = stackalloc byte[MaxLength];
        return TryCanonicalize(input, output, out var written, out _) ? written : -1;
    }

    private static int WriteCanonicalSlow(ReadOnlySpan<byte> input, Span<byte> destination)
    {
        Span<byte> output = stackalloc byte[MaxLength];
        if (!TryCanonicalize(input, output, out var written, out _))
        {
            return -1;
        }

        output[..written].CopyTo(destination);
        return written;
    }

    /// <summary>The hot path's test: an ordinary lower-case DNS name that is already canonical (labels of 1–63
    /// letters, digits, <c>-</c>, <c>_</c>; no punycode label; a last label not starting with a digit, which could make
    /// it an IPv4 form), so <see cref="WriteCanonical"/> would copy it as it is. One vectorized check of the bytes, then
    /// one search per label.</summary>
    public static bool IsCanonical(ReadOnlySpan<byte> host)
        => !host.IsEmpty && host.Length <= MaxLength && !host.ContainsAnyExcept(CanonicalDnsChars) && HasCanonicalLabels(host);

    /// <summary>How many bytes from the start of <paramref name="text"/> are ones a canonical DNS name may hold
    /// (<c>a-z 0-9 - . _</c>): where a canonical host in it would have to end.</summary>
    public static int CanonicalCharsLength(ReadOnlySpan<byte> text)
    {
        var other = text.IndexOfAnyExcept(CanonicalDnsChars);
        return other < 0 ? text.Length : other;
    }

    /// <summary>The label rules of <see cref="IsCanonical"/> for a host of only canonical DNS bytes: one search per label.</summary>
    public static bool HasCanonicalLabels(ReadOnlySpan<byte> host)
    {
        if (host.IsEmpty || host.Length > MaxLength)
        {
            return false;
        }

        // At most 127 labels fit in MaxLength bytes: the loop ends at the last one.
        while (true)
        {
            var dot = host.IndexOf((byte)'.');
            var label = dot < 0 ? host : host[..dot];
            if (label.IsEmpty || label.Length > 63 || label.StartsWith("xn--"u8))
            {
                return false;
            }

            if (dot < 0)
            {
                return !char.IsAsciiDigit((char)label[0]);
            }

            host = host[(dot + 1)..];
        }
    }

    /// <summary>Checks a lower-case ASCII host after IDNA: the IPv4 forms, then the DNS name rules.</summary>
    private static bool TryFinish(ReadOnlySpan<byte> host, Span<byte> destination, out int written, out HostKind kind)
    {
        written = 0;
        kind = HostKind.Dns;
        if (host.Length > 1 && host[^1] == (byte)'.')
        {
            host = host[..^1];
        }

        if (host.IsEmpty || host.ContainsAnyExcept(CanonicalDnsChars))
        {
            return false;
        }

        if (IPv4Literal.EndsInNumber(host))
        {
            kind = HostKind.IPv4;
            if (!IPv4Literal.TryParse(host, out var address))
            {
                return false;
            }

            written = IPv4Literal.Format(address, destination);
            return true;
        }

        if (host.Length > MaxLength || host[0] == (byte)'.' || host[^1] == (byte)'.' || host.IndexOf(".."u8) >= 0 || !LabelsFit(host))
        {
            return false;
        }

        host.CopyTo(destination);
        written = host.Length;
        return true;
    }

    private static bool LabelsFit(ReadOnlySpan<byte> host)
    {
        foreach (var range in host.Split((byte)'.'))
        {
            if (range.GetOffsetAndLength(host.Length).Length > 63)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>WHATWG percent-decode: <c>%XX</c> becomes the byte; a <c>%</c> not followed by two hex digits stays.</summary>
    private static int PercentDecode(ReadOnlySpan<byte> input, Span<byte> output)
    {
        var written = 0;
        for (var i = 0; i < input.Length; i++)
        {
            if (input[i] == (byte)'%' && i + 2 < input.Length && char.IsAsciiHexDigit((char)input[i + 1]) && char.IsAsciiHexDigit((char)input[i + 2]))
            {
                output[written++] = (byte)(HexValue(input[i + 1]) << 4 | HexValue(input[i + 2]));
                i += 2;
            }
            else
            {
                output[written++] = input[i];
            }
        }

        return written;
    }

    private static int HexValue(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    public bool Equals(HostName? other) => other is not null && string.Equals(Value, other.Value, StringComparison.Ordinal);

    public override bool Equals(object? obj) => Equals(obj as HostName);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Value);

    public override string ToString() => Value;
}
