using System.Text.Json.Nodes;
using ProxTunnel.Tests.Gateway;

namespace ProxTunnel.Tests.Http2Clients;

/// <summary>Runs a scenario of <c>h2_frames.py</c> (hyperframe + hpack from Debian's python3-h2) and parses its report.</summary>
internal static class H2Frames
{
    public const string Python = "/usr/bin/python3";
    private static readonly string Script = Path.Combine(AppContext.BaseDirectory, "Http2Clients", "h2_frames.py");

    /// <summary>Debian's python3-h2 brings hyperframe and hpack, which the script uses.</summary>
    public static bool IsAvailable => File.Exists(Python) && Directory.Exists("/usr/lib/python3/dist-packages/hyperframe");

    public static async Task<JsonNode> RunAsync(Http2Host host, string scenario, bool throughTunnel)
    {
        List<string> arguments = [Script, scenario, "--host", Http2Host.Host, "--cafile", host.RootPemPath];
        arguments.AddRange(throughTunnel ? ["--port", host.ProxyPort.ToString(), "--proxy"] : ["--port", host.DirectPort.ToString()]);
        var result = await ExternalProcess.RunAsync(Python, arguments, TimeSpan.FromSeconds(90));
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var report = JsonNode.Parse(result.StdOut) ?? throw new InvalidOperationException("empty report");
        Assert.That((string?)report["alpn"], Is.EqualTo("h2"), "ALPN the server chose");
        return report;
    }

    /// <summary>The response of stream <paramref name="streamId"/> in a report.</summary>
    public static JsonNode Stream(JsonNode report, int streamId) =>
        report["streams"]![streamId.ToString()] ?? throw new AssertionException($"no stream {streamId} in the report");

    public static int[] Ids(JsonNode report) => report["ids"]!.AsArray().Select(n => (int)n!).ToArray();
}
