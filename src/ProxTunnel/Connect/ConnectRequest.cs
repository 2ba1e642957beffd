using System.Text;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Connect;

/// <summary>
/// A CONNECT head as the rewriter parsed it (the one head parser on a connection, SPEC §4): the authority split into
/// host and port, and the head itself for the resolver and the tunnel's features.
/// </summary>
internal sealed class ConnectRequest
{
    private ConnectRequest(byte[] head, RequestHead parsed, string host, int port)
    {
        Head = head;
        Parsed = parsed;
        Host = host;
        Port = port;
        Headers = parsed.ToDictionary(head);
        Headers.TryGetValue("Proxy-Authorization", out var proxyAuthorization);
        ProxyAuthorization = proxyAuthorization;
    }

    /// <summary>The CONNECT host in canonical form (SPEC §3.1), as every later stage uses it.</summary>
    public string Host { get; }

    public int Port { get; }

    public bool Http10 => Parsed.IsHttp10;

    public IReadOnlyDictionary<string, string> Headers { get; private set; }

    public string? ProxyAuthorization { get; }

    /// <summary>The head's bytes; <see cref="Parsed"/> holds offsets into them.</summary>
    public byte[] Head { get; private set; }

    public RequestHead Parsed { get; }

    /// <summary>
    /// Called once the CONNECT is authorized: the tunnel lives on with this request referenced, so it keeps only what
    /// the tunnel still reads (issue 13.1). The head's bytes and pooled line tables go; the headers stay only when a
    /// prefix resolver may ask for them on the tunnel's requests.
    /// </summary>
    public void Forget(bool keepHeaders)
    {
        Parsed.Release();
        Head = [];
        if (!keepHeaders)
        {
            Headers = NoHeaders;
        }
    }

    private static readonly Dictionary<string, string> NoHeaders = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Builds the request from a parsed CONNECT head, taking ownership of <paramref name="parsed"/>; returns
    /// <see cref="RejectReason.InvalidConnectTarget"/> unless the target is authority-form with a port and there is no body.
    /// </summary>
    public static RejectReason TryCreate(ReadOnlySpan<byte> head, RequestHead parsed, out ConnectRequest? request)
    {
        request = null;
        var authority = parsed.Target(head);
        if (parsed.HasBody || TargetBuilder.ParseAuthority(authority, out var hostRange, out var port) != RejectReason.None)
        {
            return RejectReason.InvalidConnectTarget;
        }

        // The canonical host (SPEC §3.1): what the feature, the certificate authority and the rewritten URLs all use.
        var host = TargetBuilder.NormalizeHost(Encoding.ASCII.GetString(authority[hostRange]));

        request = new ConnectRequest(head.ToArray(), parsed, host, port);
        return RejectReason.None;
    }
}
