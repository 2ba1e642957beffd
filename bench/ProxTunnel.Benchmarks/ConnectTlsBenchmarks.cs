using System.Text;
using BenchmarkDotNet.Attributes;
using ProxTunnel.Benchmarks.Load;

namespace ProxTunnel.Benchmarks;

/// <summary>
/// A whole new tunnel to a host whose certificate is already cached: raw socket, CONNECT, 200, TLS handshake with SNI,
/// one GET, close — against the same thing on Kestrel's own <c>UseHttps</c> listener (no CONNECT). Client and server
/// share the process and its 2 cores, so both sides' costs are in the figure.
/// </summary>
[MemoryDiagnoser]
public class ConnectTlsBenchmarks
{
    private static readonly byte[] Get = Encoding.ASCII.GetBytes("GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n");
    private static readonly byte[] GetLocalhost = Encoding.ASCII.GetBytes("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
    private BenchServer _server = null!;
    private RootTrust _trust = null!;

    [GlobalSetup]
    public void Setup()
    {
        _server = BenchServer.StartAsync().GetAwaiter().GetResult();
        _trust = new RootTrust(_server.Authority.RootCertificate);
    }

    [GlobalCleanup]
    public void Cleanup() => _server.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark]
    public async Task<long> ConnectTlsHandshakeGetCachedHost()
    {
        await using var connection = await RawHttpConnection.OpenTunnelAsync(_server.Proxy, "example.com", _trust);
        var (status, length) = await connection.SendAsync(Get);
        return status == 200 ? length : throw new InvalidOperationException($"status {status}");
    }

    [Benchmark(Baseline = true)]
    public async Task<long> DirectTlsHandshakeGet()
    {
        await using var connection = await RawHttpConnection.OpenTlsAsync(_server.DirectHttps, "localhost", _trust);
        var (status, length) = await connection.SendAsync(GetLocalhost);
        return status == 200 ? length : throw new InvalidOperationException($"status {status}");
    }
}
