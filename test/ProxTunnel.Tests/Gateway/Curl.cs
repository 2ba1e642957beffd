using System.Text.Json.Nodes;

namespace ProxTunnel.Tests.Gateway;

/// <summary>Runs <c>/usr/bin/curl</c> with a deadline; fails the test on a curl error.</summary>
internal static class Curl
{
    public const string Path = "/usr/bin/curl";

    public static Task<ExternalProcess.Result> RunAsync(params string[] arguments)
        => ExternalProcess.RunAsync(Path, new[] { "-sS", "--max-time", "30" }.Concat(arguments), TimeSpan.FromSeconds(45));

    public static async Task<string> GetAsync(params string[] arguments)
    {
        var result = await RunAsync(arguments);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        return result.StdOut;
    }

    public static async Task<JsonNode> GetJsonAsync(params string[] arguments)
        => JsonNode.Parse(await GetAsync(arguments)) ?? throw new InvalidOperationException("empty JSON");

    /// <summary>Downloads the root certificate through the gateway, as the banner tells users to.</summary>
    public static async Task<string> DownloadRootAsync(GatewayProcess gateway)
    {
        var file = System.IO.Path.Combine(gateway.Directory, "downloaded-root.pem");
        if (!File.Exists(file))
        {
            await GetAsync("--proxy", gateway.ProxyUrl, "http://proxtunnel/download/pem", "-o", file);
        }

        return file;
    }
}
