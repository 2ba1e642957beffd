using System.Net;
using System.Net.Sockets;

namespace ProxTunnel.Tests.Gateway;

/// <summary>Command-line contract: exit code 2 for parse errors (with usage on stderr), 1 for run-time failures.</summary>
[NonParallelizable]
public sealed class GatewayCliTests
{
    [TestCase("--bogus")]
    [TestCase("frobnicate")]
    [TestCase("--listen", "nonsense")]
    [TestCase("--listen", "127.0.0.1")]
    [TestCase("--listen", "127.0.0.1:99999")]
    [TestCase("--listen", "1.2.3:80")]
    [TestCase("--listen", "::1:8080")]
    [TestCase("--listen-tls", "localhost")]
    [TestCase("--listen")]
    [TestCase("--upstream", "ftp://example.com/")]
    [TestCase("--upstream", "not a url")]
    [TestCase("--log-level", "loud")]
    [TestCase("--prefix", "/has space/")]
    [TestCase("--auth", "bad\"realm")]
    [TestCase("ca")]
    [TestCase("ca", "frobnicate")]
    [TestCase("ca", "export", "--format", "jks")]
    [TestCase("ca", "issue")]
    [TestCase("ca", "init", "--bogus")]
    public async Task ParseError_WhenBadCommandLine_ExitsTwoWithUsageOnStderr(params string[] arguments)
    {
        var result = await GatewayProcess.RunAsync(arguments);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.StdErr, Does.Contain("error:"));
            Assert.That(result.StdErr, Does.Contain("Usage:"));
            Assert.That(result.StdOut, Is.Empty);
        });
    }

    [Test]
    public async Task Help_WhenAsked_ListsEveryOptionAndExitsZero()
    {
        var result = await GatewayProcess.RunAsync(["--help"]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        foreach (var option in new[] { "--listen", "--listen-tls", "--prefix", "--proxy-host", "--ca", "--auth", "--upstream", "--log-level", "ca" })
        {
            Assert.That(result.StdOut, Does.Contain(option));
        }
    }

    [Test]
    public async Task PortInUse_WhenStarting_ExitsOneWithReason()
    {
        using var blocker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        blocker.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        blocker.Listen();
        var port = ((IPEndPoint)blocker.LocalEndPoint!).Port;
        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-gateway-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            var result = await GatewayProcess.RunAsync(["--listen", $"127.0.0.1:{port}", "--ca", Path.Combine(directory, "ca.pem")]);
            Assert.Multiple(() =>
            {
                Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
                Assert.That(result.StdErr, Does.Contain("address already in use").IgnoreCase);
                Assert.That(result.StdErr, Does.Contain(port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            });
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task CorruptCa_WhenStarting_ExitsOneNamingThePathAndKeepsTheFile()
    {
        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-gateway-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var ca = Path.Combine(directory, "ca.pem");
        await File.WriteAllTextAsync(ca, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
        try
        {
            var result = await GatewayProcess.RunAsync(["--listen", $"127.0.0.1:{GatewayProcess.FreePort()}", "--ca", ca]);
            Assert.Multiple(() =>
            {
                Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
                Assert.That(result.StdErr, Does.Contain(ca));
                Assert.That(File.ReadAllText(ca), Does.Contain("not base64 at all"));
            });
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task NoArguments_OnFreshDirectory_CreatesDefaultCaAndListensOnLoopback8080()
    {
        // Only meaningful when 8080 is free on this machine.
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            try
            {
                probe.Bind(new IPEndPoint(IPAddress.Loopback, 8080));
            }
            catch (SocketException)
            {
                Assert.Ignore("127.0.0.1:8080 is in use on this machine");
            }
        }

        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-gateway-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        using var process = System.Diagnostics.Process.Start(GatewayProcess.CreateStartInfo([], directory))!;
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            string? line;
            var seen = new List<string>();
            while ((line = await process.StandardOutput.ReadLineAsync(cts.Token)) is not null && !line.StartsWith("press Ctrl+C", StringComparison.Ordinal))
            {
                seen.Add(line);
            }

            Assert.Multiple(() =>
            {
                Assert.That(seen, Does.Contain("listening on http://127.0.0.1:8080 (HTTP proxy)"));
                Assert.That(File.Exists(Path.Combine(directory, "ca", "proxtunnel-ca.pem")), Is.True);
            });
            if (!OperatingSystem.IsWindows())
            {
                Assert.That(File.GetUnixFileMode(Path.Combine(directory, "ca", "proxtunnel-ca.pem")), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
            }

            var json = await Curl.GetJsonAsync("--proxy", "http://127.0.0.1:8080", "http://example.com/default");
            Assert.That((string?)json["target"], Is.EqualTo("/prefix/http://example.com/default"));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await process.WaitForExitAsync(cts.Token);
            Directory.Delete(directory, recursive: true);
        }
    }
}
