using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace ProxTunnel.Gateway;

/// <summary>One <c>ADDR:PORT</c> given to <c>--listen</c> or <c>--listen-tls</c>.</summary>
internal sealed record ListenEndpoint(IPAddress? Address, int Port, string Text)
{
    /// <summary>True for <c>localhost:PORT</c>, which binds the IPv4 and IPv6 loopback addresses.</summary>
    public bool IsLocalhost => Address is null;

    /// <summary>Parses <c>127.0.0.1:8080</c>, <c>[::1]:8080</c>, <c>0.0.0.0:8080</c>, <c>*:8080</c> or <c>localhost:8080</c>.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out ListenEndpoint? endpoint, [NotNullWhen(false)] out string? error)
    {
        endpoint = null;
        error = null;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            error = $"'{text}' is not ADDR:PORT (examples: 127.0.0.1:8080, [::1]:8080, 0.0.0.0:8080, localhost:8080).";
            return false;
        }

        var host = text[..colon];
        var portText = text[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > IPEndPoint.MaxPort)
        {
            error = $"'{text}': the port must be a number from 0 to {IPEndPoint.MaxPort}.";
            return false;
        }

        IPAddress? address;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = null;
        }
        else if (host == "*")
        {
            address = IPAddress.Any;
        }
        else if (host.StartsWith('[') && host.EndsWith(']') && IPAddress.TryParse(host[1..^1], out var v6)
            && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            address = v6;
        }
        else if (!host.Contains(':', StringComparison.Ordinal) && IPAddress.TryParse(host, out var v4)
            && v4.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && host.Count(c => c == '.') == 3)
        {
            address = v4;
        }
        else
        {
            error = $"'{text}': '{host}' is not an IPv4 address, a bracketed IPv6 address, '*' or 'localhost'.";
            return false;
        }

        endpoint = new ListenEndpoint(address, port, text);
        return true;
    }
}
