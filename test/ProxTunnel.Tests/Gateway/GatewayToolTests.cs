using System.Text.RegularExpressions;

namespace ProxTunnel.Tests.Gateway;

/// <summary>The gateway ships as a .NET tool: pack it, install it from a local folder, run <c>proxtunnel --help</c>.</summary>
[NonParallelizable]
public sealed partial class GatewayToolTests
{
    [Test]
    public async Task Tool_PackedAndInstalledFromLocalFolder_RunsHelp()
    {
        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-gateway-tests", Guid.NewGuid().ToString("N"));
        var feed = Path.Combine(directory, "feed");
        var tools = Path.Combine(directory, "tools");
        Directory.CreateDirectory(feed);
        try
        {
            // --no-build: the test run already built the gateway in this configuration; packing only collects it.
            var project = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(GatewayProcess.DllPath)!, "..", "..", "..", "ProxTunnel.Gateway.csproj"));
            var configuration = GatewayProcess.DllPath.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
            var pack = await ExternalProcess.RunAsync("dotnet", ["pack", project, "-c", configuration, "--no-build", "-o", feed, "--nologo"],
                TimeSpan.FromMinutes(3));
            Assert.That(pack.ExitCode, Is.Zero, pack.ToString());
            var package = Directory.GetFiles(feed, "ProxTunnel.Gateway.*.nupkg").Single();
            var version = PackageVersion().Match(Path.GetFileName(package)).Groups[1].Value;

            // Only the local folder as a source, and a private package cache: no network, and never a stale copy of this version.
            var config = Path.Combine(directory, "nuget.config");
            await File.WriteAllTextAsync(config,
                $"<configuration><packageSources><clear /><add key=\"local\" value=\"{feed}\" /></packageSources></configuration>");
            var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(directory, "packages") };
            var install = await ExternalProcess.RunAsync("dotnet",
                ["tool", "install", "--tool-path", tools, "--configfile", config, "ProxTunnel.Gateway", "--version", version],
                TimeSpan.FromMinutes(3), environment, directory);
            Assert.That(install.ExitCode, Is.Zero, install.ToString());

            var help = await ExternalProcess.RunAsync(Path.Combine(tools, "proxtunnel"), ["--help"], TimeSpan.FromSeconds(60));
            Assert.Multiple(() =>
            {
                Assert.That(help.ExitCode, Is.Zero, help.ToString());
                Assert.That(help.StdOut, Does.Contain("Usage:"));
                Assert.That(help.StdOut, Does.Contain("proxtunnel [command] [options]"));
                Assert.That(help.StdOut, Does.Contain("--auth [REALM]"));
            });
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [GeneratedRegex(@"^ProxTunnel\.Gateway\.(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\.nupkg$")]
    private static partial Regex PackageVersion();
}
