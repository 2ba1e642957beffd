using System.Net;

namespace ProxTunnel.Gateway;

/// <summary>
/// What one access-log line needs, taken when the request ends: references the request already holds and a few
/// numbers. No text is built on the request path; <see cref="AccessLog"/> formats it later, off that path.
/// </summary>
internal readonly record struct AccessLogEntry(
    string Method,
    string Target,
    string Scheme,
    string? Host,
    int Status,
    long Bytes,
    long Started,
    long Ended,
    IPAddress? Client,
    int ClientPort,
    IProxyTunnelFeature? Tunnel);
