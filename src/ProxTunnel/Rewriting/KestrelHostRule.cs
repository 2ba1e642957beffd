using System.Buffers;

namespace ProxTunnel.Rewriting;

/// <summary>
/// Which <c>Host</c> values Kestrel accepts on an origin-form request (its <c>HttpUtilities.IsHostHeaderValid</c>, as
/// of ASP.NET Core 10): empty; a reg-name or IPv4 of <c>A-Z a-z 0-9 ! $ &amp; ' ( ) - . _ ~</c> with an optional
/// <c>:digits</c>; or <c>[</c> hex, <c>:</c> and <c>.</c> <c>]</c> (at least <c>[::1]</c> long) with an optional <c>:digits</c>.
/// Inside a tunnel a Host outside these rules would cost the client a 400 that the site itself would not send
/// (python-requests 2.28 sends <c>[[2001:db8::1]]:8443</c>), so the rewriter replaces it with the tunnel's authority.
/// </summary>
internal static class KestrelHostRule
{
    private static readonly SearchValues<byte> HostChars = SearchValues.Create(
        "!$&'()-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    private static readonly SearchValues<byte> BracketedChars = SearchValues.Create("0123456789ABCDEFabcdef:."u8);

    public static bool Accepts(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return true;
        }

        if (value[0] == (byte)'[')
        {
            var close = value.IndexOf((byte)']');
            if (close < 4 || value[1..close].ContainsAnyExcept(BracketedChars))
            {
                return false;
            }

            return close + 1 == value.Length || IsPort(value[(close + 1)..]);
        }

        if (value[0] == (byte)':')
        {
            return false;
        }

        var other = value.IndexOfAnyExcept(HostChars);
        return other < 0 || IsPort(value[other..]);
    }

    /// <summary><c>:</c> and at least one digit, nothing else.</summary>
    private static bool IsPort(ReadOnlySpan<byte> value)
        => value.Length > 1 && value[0] == (byte)':' && !value[1..].ContainsAnyExceptInRange((byte)'0', (byte)'9');
}
