using System.Globalization;
using System.Text;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// The gateway's own path, each side a process of its own on loopback: the built-in inspector through the proxy
/// (absolute-form; at the default log level, whose access log writes a line per request to stderr, and without the
/// access log) against a bare Kestrel app answering similar JSON, and <c>--upstream</c> (YARP) through the proxy
/// against a bare YARP app in front of the same backend.
/// </summary>
internal static class GatewayScenarios
{
    public static async Task<IReadOnlyList<string[]>> RunAsync(string directory, int connections, TimeSpan duration)
    {
        await using var json = await ChildServer.StartAppAsync(ChildApps.Json);
        var backend = $"http://127.0.0.1:{json.Port}";
        await using var inspector = await ChildServer.StartGatewayAsync(directory);
        await using var quiet = await ChildServer.StartGatewayAsync(directory, "--log-level", "warning");
        await using var upstream = await ChildServer.StartGatewayAsync(directory, "--upstream", backend);
        await using var yarp = await ChildServer.StartAppAsync(ChildApps.Yarp, backend);

        var origin = Encoding.ASCII.GetBytes("GET /hello?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: load\r\nAccept: */*\r\n\r\n");
        var absolute = Encoding.ASCII.GetBytes("GET http://example.com/hello?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: load\r\nAccept: */*\r\n\r\n");
        Func<Task<RawHttpConnection>> Open(ChildServer server) => () => RawHttpConnection.ConnectAsync(new(System.Net.IPAddress.Loopback, server.Port));
        foreach (var (server, request) in new[] { (json, origin), (inspector, absolute), (quiet, absolute), (yarp, origin), (upstream, absolute) })
        {
            await LoadHarness.RequestsPerSecondAsync(connections, TimeSpan.FromSeconds(1), Open(server), request);
        }

        var inspectorRows = await CompareAsync(connections, duration, (json, origin), (inspector, absolute));
        var quietRows = await CompareAsync(connections, duration, (json, origin), (quiet, absolute));
        var yarpRows = await CompareAsync(connections, duration, (yarp, origin), (upstream, absolute));
        return
        [
            LoadHarness.Row("gateway inspector req/s vs bare Kestrel JSON app", inspectorRows.Direct.Rate, inspectorRows.Proxied.Rate, 0.8, "F0"),
            CpuRow("  server CPU µs/request (lower is better)", inspectorRows.Direct.Cpu, inspectorRows.Proxied.Cpu),
            LoadHarness.Row("  same, --log-level warning (no access log)", quietRows.Direct.Rate, quietRows.Proxied.Rate, 0.8, "F0"),
            CpuRow("  server CPU µs/request", quietRows.Direct.Cpu, quietRows.Proxied.Cpu),
            LoadHarness.Row("gateway --upstream (YARP) req/s vs bare YARP", yarpRows.Direct.Rate, yarpRows.Proxied.Rate, 0.9, "F0"),
            CpuRow("  front process CPU µs/request", yarpRows.Direct.Cpu, yarpRows.Proxied.Cpu),
        ];
    }

    /// <summary>ABBA quarters as <see cref="LoadHarness.CompareAsync"/>, with each server's CPU per request.</summary>
    private static async Task<((double Rate, double Cpu) Direct, (double Rate, double Cpu) Proxied)> CompareAsync(
        int connections, TimeSpan duration, (ChildServer Server, byte[] Request) direct, (ChildServer Server, byte[] Request) proxied)
    {
        var quarter = duration / 4;
        Task<(double, double)> Run((ChildServer Server, byte[] Request) side) => LoadHarness.MeasureAsync(
            connections, quarter, () => RawHttpConnection.ConnectAsync(new(System.Net.IPAddress.Loopback, side.Server.Port)), side.Request, () => side.Server.CpuTime);
        var d1 = await Run(direct);
        var p1 = await Run(proxied);
        var p2 = await Run(proxied);
        var d2 = await Run(direct);
        return (((d1.Item1 + d2.Item1) / 2, (d1.Item2 + d2.Item2) / 2), ((p1.Item1 + p2.Item1) / 2, (p1.Item2 + p2.Item2) / 2));
    }

    private static string[] CpuRow(string name, double direct, double proxied) =>
        [name, direct.ToString("F1", CultureInfo.InvariantCulture), proxied.ToString("F1", CultureInfo.InvariantCulture), (proxied / direct).ToString("F2", CultureInfo.InvariantCulture), "", ""];
}
