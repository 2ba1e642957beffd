using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxTunnel.Urls;

/// <summary>IPv6 literals: parsed without zone ids, written as the WHATWG URL Standard serializes them (RFC 5952
/// compression: lower-case hex, no leading zeros, the first longest run of two or more zero pieces as <c>::</c>;
/// embedded IPv4 in hex too, so <c>[::ffff:1.2.3.4]</c> becomes <c>[::ffff:102:304]</c>, as in browsers).</summary>
internal static class IPv6Literal
{
    /// <summary>The longest output: <c>[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]</c>.</summary>
    public const int MaxFormattedLength = 41;

    private static readonly SearchValues<byte> LiteralChars = SearchValues.Create("0123456789abcdefABCDEF:."u8);

    /// <summary>Parses the text between the brackets (a zone id such as <c>%eth0</c> is refused: it names an interface
    /// of one machine, never a host in a URL).</summary>
    public static bool TryParse(ReadOnlySpan<byte> literal, Span<byte> address)
    {
        if (literal.Length is < 2 or > 45 || literal.ContainsAnyExcept(LiteralChars))
        {
            return false;
        }

        Span<char> chars = stackalloc char[literal.Length];
        Encoding.ASCII.GetChars(literal, chars);
        return IPAddress.TryParse(chars, out var parsed) && parsed.AddressFamily == AddressFamily.InterNetworkV6
            && parsed.TryWriteBytes(address, out _);
    }

    /// <summary>Writes <c>[...]</c>, brackets included, from the 16 address bytes.</summary>
    public static int Format(ReadOnlySpan<byte> address, Span<byte> destination)
    {
        Span<ushort> pieces = stackalloc ushort[8];
        for (var i = 0; i < 8; i++)
        {
            pieces[i] = (ushort)(address[2 * i] << 8 | address[2 * i + 1]);
        }

        // The first longest run of zero pieces, if longer than one piece, is compressed.
        int bestStart = -1, bestLength = 1;
        for (var i = 0; i < 8;)
        {
            if (pieces[i] != 0)
            {
                i++;
                continue;
            }

            var start = i;
            while (i < 8 && pieces[i] == 0)
            {
                i++;
            }

            if (i - start > bestLength)
            {
                bestStart = start;
                bestLength = i - start;
            }
        }

        var written = 0;
        destination[written++] = (byte)'[';
        for (var i = 0; i < 8; i++)
        {
            if (i == bestStart)
            {
                destination[written++] = (byte)':';
                if (i == 0)
                {
                    destination[written++] = (byte)':';
                }

                i += bestLength - 1;
                continue;
            }

            pieces[i].TryFormat(destination[written..], out var hexWritten, "x", null);
            written += hexWritten;
            if (i < 7)
            {
                destination[written++] = (byte)':';
            }
        }

        destination[written++] = (byte)']';
        return written;
    }
}
