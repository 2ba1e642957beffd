using System.Text;

namespace ProxTunnel.Rewriting;

/// <summary>Where origin-form requests inside one CONNECT tunnel point: scheme, host (SNI or CONNECT host) and port.</summary>
internal sealed class TunnelTarget
{
    public TunnelTarget(bool https, string host, int port, IReadOnlyDictionary<string, string> connectHeaders)
    {
        Https = https;
        Host = TargetBuilder.NormalizeHost(host);
        Port = port;
        ConnectHeaders = connectHeaders;
        var hostBytes = Encoding.ASCII.GetBytes(Host);
        Origin = new byte[TargetBuilder.OriginLength(https, hostBytes, port)];
        TargetBuilder.WriteOrigin(Origin, https, hostBytes, port);
        Authority = Origin.AsMemory((https ? "https://" : "http://").Length);
    }

    public bool Https { get; }

    /// <summary>Lower-case; IPv6 in brackets.</summary>
    public string Host { get; }

    public int Port { get; }

    /// <summary><c>scheme://host[:port]</c>, ready to copy into a rewritten target.</summary>
    public byte[] Origin { get; }

    /// <summary><c>host[:port]</c>: the Host header the app sees when the client's own cannot be used.</summary>
    public ReadOnlyMemory<byte> Authority { get; }

    public IReadOnlyDictionary<string, string> ConnectHeaders { get; }
}
