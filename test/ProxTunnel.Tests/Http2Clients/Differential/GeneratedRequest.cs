namespace ProxTunnel.Tests.Http2Clients.Differential;

/// <summary>One generated HTTP/2 request and how its frames are laid out.</summary>
internal sealed record GeneratedRequest(
    int Index,
    string Method,
    string PathAndQuery,
    IReadOnlyList<(string Name, string Value)> Headers,
    byte[]? Body,
    IReadOnlyList<(string Name, string Value)>? Trailers,
    IReadOnlyList<int> TableSizeUpdates,
    int HeaderFragments,
    int Padding,
    bool Priority,
    int DataChunk);
