namespace ProxTunnel.Tests.Http2Clients;

/// <summary>What the app saw of one request: everything a differential comparison needs, in the app's own order.</summary>
internal sealed record RecordedRequest(
    string Protocol,
    string Method,
    string Target,
    bool IsHttps,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    long BodyLength,
    string BodySha256,
    IReadOnlyList<KeyValuePair<string, string>> Trailers,
    string ConnectionId);
