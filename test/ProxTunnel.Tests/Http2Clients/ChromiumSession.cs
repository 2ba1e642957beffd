using System.Collections;
using System.Diagnostics;
using Microsoft.Playwright;

namespace ProxTunnel.Tests.Http2Clients;

/// <summary>
/// Headless Chromium through a proxy, trusting a root through an NSS database under a private HOME. Self-contained
/// (only Playwright and the system's certutil): the benchmark project links this file too.
/// </summary>
internal sealed class ChromiumSession : IAsyncDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public const string CertutilPath = "/usr/bin/certutil";
    public const float TimeoutMs = 60_000;
    private readonly IPlaywright _playwright;

    private ChromiumSession(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    public static bool IsAvailable => File.Exists(ChromiumPath) && File.Exists(CertutilPath);

    /// <summary>Starts Chromium with <c>--proxy-server</c> pointing at <paramref name="proxyPort"/>; <paramref name="extraArguments"/> go on its command line.</summary>
    public static async Task<ChromiumSession> LaunchAsync(string rootPemPath, int proxyPort, string home, params string[] extraArguments)
    {
        var nssdb = Path.Combine(home, ".pki", "nssdb");
        Directory.CreateDirectory(nssdb);
        await CertutilAsync("-d", "sql:" + nssdb, "-N", "--empty-password");
        await CertutilAsync("-d", "sql:" + nssdb, "-A", "-t", "C,,", "-n", "proxtunnel", "-i", rootPemPath);

        var environment = new Dictionary<string, string>();
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            environment[(string)entry.Key] = (string?)entry.Value ?? "";
        }

        environment["HOME"] = home;
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ChromiumPath,
                Headless = true,
                Timeout = TimeoutMs,
                Env = environment,
                Args =
                [
                    $"--proxy-server=http://127.0.0.1:{proxyPort}", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync", .. extraArguments,
                ],
            });
            return new ChromiumSession(playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    private static async Task CertutilAsync(params string[] arguments)
    {
        var info = new ProcessStartInfo(CertutilPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start certutil");
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stdout = process.StandardOutput.ReadToEndAsync(deadline.Token);
        var stderr = process.StandardError.ReadToEndAsync(deadline.Token);
        await process.WaitForExitAsync(deadline.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"certutil {string.Join(' ', arguments)} failed: {await stdout} {await stderr}");
        }
    }

    /// <summary>The protocol of the page and of every sub-resource it loaded, as the browser reports them.</summary>
    public static Task<string[][]> ProtocolsAsync(IPage page) =>
        page.EvaluateAsync<string[][]>(
            "() => performance.getEntries().filter(e => e.entryType === 'navigation' || e.entryType === 'resource').map(e => [e.name, e.nextHopProtocol])");

    public async ValueTask DisposeAsync()
    {
        await Browser.CloseAsync();
        _playwright.Dispose();
    }
}
