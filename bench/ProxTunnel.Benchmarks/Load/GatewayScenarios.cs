using System.Text;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// The gateway's own path, each side a process of its own on loopback: the built-in inspector through the proxy
/// (absolute-form) against a bare Kestrel app answering similar JSON, and <c>--upstream</c> (YARP) through the proxy
/// against a bare YARP app in front of the same backend.
/// </summary>
internal static class GatewayScenarios
{
    public static async Task<IReadOnlyList<string[]>> RunAsync(string directory, int connections, TimeSpan duration)
    {
        await using var json = await ChildServer.StartAppAsync(ChildApps.Json);
        var backend = $"http://127.0.0.1:{json.Port}";
        await using var inspector = await ChildServer.StartGatewayAsync(directory);
        await using var upstream = await ChildServer.StartGatewayAsync(directory, "--upstream", backend);
        await using var yarp = await ChildServer.StartAppAsync(ChildApps.Yarp, backend);

        var origin = Encoding.ASCII.GetBytes("GET /hello?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: load\r\nAccept: */*\r\n\r\n");
        var absolute = Encoding.ASCII.GetBytes("GET http://example.com/hello?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: load\r\nAccept: */*\r\n\r\n");
        Func<Task<RawHttpConnection>> Open(ChildServer server) => () => RawHttpConnection.ConnectAsync(new(System.Net.IPAddress.Loopback, server.Port));

        foreach (var (server, request) in new[] { (json, origin), (inspector, absolute), (yarp, origin), (upstream, absolute) })
        {
            await LoadHarness.RequestsPerSecondAsync(connections, TimeSpan.FromSeconds(1), Open(server), request);
        }

        var (bare, proxied) = await LoadHarness.CompareAsync(duration,
            d => LoadHarness.RequestsPerSecondAsync(connections, d, Open(json), origin),
            d => LoadHarness.RequestsPerSecondAsync(connections, d, Open(inspector), absolute));
        var (yarpDirect, yarpProxied) = await LoadHarness.CompareAsync(duration,
            d => LoadHarness.RequestsPerSecondAsync(connections, d, Open(yarp), origin),
            d => LoadHarness.RequestsPerSecondAsync(connections, d, Open(upstream), absolute));
        return
        [
            LoadHarness.Row("gateway inspector req/s vs bare Kestrel JSON app", bare, proxied, 0.8, "F0"),
            LoadHarness.Row("gateway --upstream (YARP) req/s vs bare YARP", yarpDirect, yarpProxied, 0.9, "F0"),
        ];
    }
}
