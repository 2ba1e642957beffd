using System.Collections;
using Microsoft.Playwright;

namespace ProxTunnel.Tests.Gateway;

/// <summary>Headless Chromium through a gateway, with its own HOME (so its NSS database is the test's) and no certificate flags.</summary>
internal static class HeadlessChromium
{
    public const string Path = "/usr/bin/chromium";

    public const float TimeoutMs = 30_000;

    public static Task<IBrowser> LaunchAsync(IPlaywright playwright, int proxyPort, string home)
    {
        var environment = new Dictionary<string, string>();
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            environment[(string)entry.Key] = (string?)entry.Value ?? "";
        }

        environment["HOME"] = home;
        return playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Path,
            Headless = true,
            Timeout = TimeoutMs,
            Env = environment,
            Args =
            [
                $"--proxy-server=http://127.0.0.1:{proxyPort}", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--proxy-bypass-list=<-loopback>",
            ],
        });
    }
}
