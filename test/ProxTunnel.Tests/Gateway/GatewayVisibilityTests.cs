using System.Text.Json;
using System.Text.RegularExpressions;
using ProxTunnel.Tests.Certificates;

namespace ProxTunnel.Tests.Gateway;

/// <summary>What went through: the access log on stderr and the <c>--har FILE</c> output.</summary>
[NonParallelizable]
public sealed partial class GatewayVisibilityTests
{
    [Test]
    public async Task AccessLog_AtInformation_OneLinePerRequestWithClientAndTunnel()
    {
        await using var gateway = await GatewayProcess.StartAsync();
        var root = await Curl.DownloadRootAsync(gateway);
        await Curl.GetAsync("--proxy", gateway.ProxyUrl, "--cacert", root, "https://example.com/logged?size=1234");
        await Curl.GetAsync("--proxy", gateway.ProxyUrl, "http://example.com/plain?status=404");
        var tunneled = await gateway.WaitForStdErrLineAsync(TunneledLine());
        var plain = await gateway.WaitForStdErrLineAsync(PlainLine());
        Assert.Multiple(() =>
        {
            Assert.That(tunneled, Does.Contain("GET https://example.com/logged?size=1234 200 1234 B "));
            Assert.That(plain, Does.Contain("GET http://example.com/plain?status=404 404 "));
        });
    }

    [Test]
    public async Task AccessLog_AfterNormalStop_HoldsALineForEveryRequest()
    {
        const int Requests = 300;
        await using var gateway = await GatewayProcess.StartAsync();
        using var client = new HttpClient(new SocketsHttpHandler { Proxy = new System.Net.WebProxy(gateway.ProxyUrl), UseProxy = true })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        var requests = Enumerable.Range(0, Requests).Select(async i =>
        {
            using var response = await client.GetAsync($"http://example.com/burst/{i}?size={i}");
            Assert.That(response.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.OK));
        });
        await Task.WhenAll(requests);

        // Stopped at once: lines still queued when the host stops are written before the process exits.
        Assert.That(await gateway.StopGracefullyAsync(), Is.Zero, gateway.StdErr);
        var logged = gateway.StdErr.Split('\n').Select(l => BurstLine().Match(l)).Where(m => m.Success).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(logged.Select(m => int.Parse(m.Groups[1].Value)).Order(), Is.EqualTo(Enumerable.Range(0, Requests)));
            Assert.That(logged.All(m => m.Groups[1].Value == m.Groups[2].Value), Is.True, "the bytes of each response are its size=N");
        });
    }

    [Test]
    public async Task Har_AfterNormalStop_IsValidHar12WithEveryExchange()
    {
        using var directory = new TestDirectory();
        var har = directory.File("out.har");
        await using var gateway = await GatewayProcess.StartAsync("--har", har);
        var root = await Curl.DownloadRootAsync(gateway);
        await Curl.GetAsync("--proxy", gateway.ProxyUrl, "--cacert", root, "https://example.com/json?a=1&b=2");
        await Curl.GetAsync("--proxy", gateway.ProxyUrl, "-d", "name=value", "http://example.com/form");
        await Curl.GetAsync("--proxy", gateway.ProxyUrl, "-o", "/dev/null", $"http://example.com/big?size={(2 * 64 * 1024) + 5}");
        Assert.That(await gateway.StopGracefullyAsync(), Is.Zero, gateway.StdErr);

        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(har));
        var log = document.RootElement.GetProperty("log");
        Assert.That(log.GetProperty("version").GetString(), Is.EqualTo("1.2"));
        Assert.That(log.GetProperty("creator").GetProperty("name").GetString(), Is.EqualTo("ProxTunnel"));
        var entries = log.GetProperty("entries").EnumerateArray().ToArray();
        Assert.That(entries.Select(e => e.GetProperty("request").GetProperty("url").GetString()), Is.EqualTo(new[]
        {
            "https://example.com/json?a=1&b=2", "http://example.com/form", $"http://example.com/big?size={(2 * 64 * 1024) + 5}",
        }));
        foreach (var entry in entries)
        {
            AssertRequiredHarFields(entry);
        }

        var json = entries[0];
        var form = entries[1];
        var big = entries[2].GetProperty("response").GetProperty("content");
        Assert.Multiple(() =>
        {
            Assert.That(json.GetProperty("request").GetProperty("queryString").GetArrayLength(), Is.EqualTo(2));
            Assert.That(json.GetProperty("response").GetProperty("content").GetProperty("text").GetString(),
                Does.Contain("\"target\":\"/prefix/https://example.com/json?a=1&b=2\""));
            Assert.That(json.GetProperty("connection").GetString(), Is.EqualTo("example.com:443"));
            Assert.That(form.GetProperty("request").GetProperty("postData").GetProperty("text").GetString(), Is.EqualTo("name=value"));
            Assert.That(form.GetProperty("request").GetProperty("bodySize").GetInt64(), Is.EqualTo(10));
            Assert.That(big.GetProperty("size").GetInt64(), Is.EqualTo((2 * 64 * 1024) + 5));
            Assert.That(big.GetProperty("encoding").GetString(), Is.EqualTo("base64"));
            Assert.That(Convert.FromBase64String(big.GetProperty("text").GetString()!), Has.Length.EqualTo(64 * 1024));
        });
    }

    [Test]
    public async Task Har_AfterKill_CompletedEntriesRecoverByDroppingUnparsableLines()
    {
        using var directory = new TestDirectory();
        var har = directory.File("crashed.har");
        // Debug: the gateway then logs each flush of the HAR file, the signal that both entries are on disk.
        var gateway = await GatewayProcess.StartAsync("--har", har, "--log-level", "Debug");
        try
        {
            await Curl.GetAsync("--proxy", gateway.ProxyUrl, "http://example.com/one");
            await Curl.GetAsync("--proxy", gateway.ProxyUrl, "http://example.com/two");
            await gateway.WaitForStdErrLineAsync(new Regex(": 2 entries on disk$"));
        }
        finally
        {
            await gateway.DisposeAsync(); // SIGKILL: no closing ]}} is written.
        }

        // The documented repair: the header line, every later line that parses (minus its leading comma), then ]}}.
        var lines = (await File.ReadAllTextAsync(har)).Split('\n');
        Assert.That(() => JsonDocument.Parse(string.Join('\n', lines)), Throws.InstanceOf<JsonException>(), "no closing after a kill");
        var kept = lines.Skip(1).Where(l => IsJson(l.TrimStart(','))).ToArray();
        using var repaired = JsonDocument.Parse(lines[0] + string.Join('\n', kept) + "]}}");
        var urls = repaired.RootElement.GetProperty("log").GetProperty("entries").EnumerateArray()
            .Select(e => e.GetProperty("request").GetProperty("url").GetString());
        Assert.That(urls, Is.EqualTo(new[] { "http://example.com/one", "http://example.com/two" }));
    }

    [Test]
    public async Task Har_WhenFileExists_RefusesAndLeavesItAlone()
    {
        using var directory = new TestDirectory();
        var har = directory.File("existing.har");
        await File.WriteAllTextAsync(har, "precious");
        var result = await GatewayProcess.RunAsync(["--listen", $"127.0.0.1:{GatewayProcess.FreePort()}", "--har", har]);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.StdErr, Does.Contain($"--har: '{har}' already exists"));
            Assert.That(File.ReadAllText(har), Is.EqualTo("precious"));
        });
    }

    private static bool IsJson(string line)
    {
        try
        {
            using var _ = JsonDocument.Parse(line);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The fields HAR 1.2 marks required for an entry, its request, response, content and timings.</summary>
    private static void AssertRequiredHarFields(JsonElement entry)
    {
        string[] entryFields = ["startedDateTime", "time", "request", "response", "cache", "timings"];
        string[] requestFields = ["method", "url", "httpVersion", "cookies", "headers", "queryString", "headersSize", "bodySize"];
        string[] responseFields = ["status", "statusText", "httpVersion", "cookies", "headers", "content", "redirectURL", "headersSize", "bodySize"];
        string[] timingFields = ["send", "wait", "receive"];
        Assert.Multiple(() =>
        {
            Assert.That(entryFields.Where(f => !entry.TryGetProperty(f, out _)), Is.Empty);
            Assert.That(requestFields.Where(f => !entry.GetProperty("request").TryGetProperty(f, out _)), Is.Empty);
            Assert.That(responseFields.Where(f => !entry.GetProperty("response").TryGetProperty(f, out _)), Is.Empty);
            Assert.That(timingFields.Where(f => entry.GetProperty("timings").GetProperty(f).GetDouble() < 0), Is.Empty);
            Assert.That(entry.GetProperty("response").GetProperty("content").TryGetProperty("mimeType", out _), Is.True);
            Assert.That(DateTimeOffset.TryParse(entry.GetProperty("startedDateTime").GetString(), out _), Is.True);
            Assert.That(entry.GetProperty("request").GetProperty("headers").EnumerateArray()
                .All(h => h.GetProperty("name").ValueKind == JsonValueKind.String && h.GetProperty("value").ValueKind == JsonValueKind.String), Is.True);
        });
    }

    [GeneratedRegex(@"Access\[\d+\] GET https://example\.com/logged\?size=1234 200 1234 B \d+(\.\d)? ms client 127\.0\.0\.1:\d+ tunnel example\.com:443$")]
    private static partial Regex TunneledLine();

    [GeneratedRegex(@"^\d\d:\d\d:\d\d info: ProxTunnel\.Gateway\.Access\[11\] GET http://example\.com/burst/(\d+)\?size=\d+ 200 (\d+) B \d+\.\d ms client 127\.0\.0\.1:\d+ no tunnel$")]
    private static partial Regex BurstLine();

    [GeneratedRegex(@"Access\[\d+\] GET http://example\.com/plain\?status=404 404 \d+ B \d+(\.\d)? ms client 127\.0\.0\.1:\d+ no tunnel$")]
    private static partial Regex PlainLine();
}
