using ProxTunnel.Tests.Gateway;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Http2;

/// <summary>Python's h2 (Debian python3-h2) through a tunnel: an independent HPACK encoder that uses Huffman strings and
/// the dynamic table across requests, and sends trailers.</summary>
public sealed class PythonH2ClientTests
{
    private static readonly string Script = Path.Combine(TestContext.CurrentContext.TestDirectory, "Http2", "Scripts", "h2_client.py");

    [Test]
    public async Task PythonH2_SeesRewrittenTargets_OnEveryStream_WhenTheTableIsReused()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        var root = Path.Combine(app.Directory, "root.pem");
        await File.WriteAllTextAsync(root, app.Authority.RootCertificate.ExportCertificatePem());
        var result = await ExternalProcess.RunAsync("/usr/bin/python3", [Script, app.Port.ToString(), root, "example.com"], TimeSpan.FromSeconds(60));
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var lines = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Is.EqualTo(Enumerable.Range(0, 5).Select(i =>
            $"{1 + 2 * i} 200 \"/p/https://example.com/item/{i}?q=%20{i}\" \"same-value-every-time\"")));
    }
}
