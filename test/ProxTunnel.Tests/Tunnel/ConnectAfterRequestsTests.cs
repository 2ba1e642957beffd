using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Tunnel;

/// <summary>
/// SPEC §3.10: a CONNECT after other requests on one connection opens a tunnel that lives as long as one opened on a
/// fresh connection. The first Kestrel pass armed timeouts (keep-alive, response data rate) that used to fire into the
/// tunnel about 6 s later, so these tests pace requests over 20 s on purpose.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public sealed class ConnectAfterRequestsTests
{
    private const int PacedRequests = 20;
    private static readonly TimeSpan Pace = TimeSpan.FromSeconds(1);

    [Test]
    public async Task TlsTunnelAfterThreeRequests_ServesRequestsForTwentySeconds()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await SendPlainRequestsAsync(c);
        Assert.That((await c.ConnectAsync("late.example:443")).Status, Is.EqualTo(200));
        await c.StartTlsAsync(app, "late.example");
        await ServePacedAsync(c, "https://late.example", isHttps: true);
    }

    [Test]
    public async Task PlainTunnelAfterThreeRequests_ServesRequestsForTwentySeconds()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await SendPlainRequestsAsync(c);
        Assert.That((await c.ConnectAsync("late.example:80")).Status, Is.EqualTo(200));
        await ServePacedAsync(c, "http://late.example", isHttps: false);
    }

    [Test]
    public async Task PlainTunnelAfterRequestsOverHttpsProxy_IsNotHttps()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.StartTlsAsync(app, serverName: null);
        await SendPlainRequestsAsync(c);
        Assert.That((await c.ConnectAsync("late.example:80")).Status, Is.EqualTo(200));
        await c.SendAsync("GET /x HTTP/1.1\r\nHost: late.example\r\n\r\n");
        var json = (await c.ReadResponseAsync()).Json;
        Assert.Multiple(() =>
        {
            Assert.That((string?)json["target"], Is.EqualTo("/p/http://late.example/x"));
            Assert.That((bool?)json["isHttps"], Is.False);
        });
    }

    private static async Task SendPlainRequestsAsync(RawHttpConnection c)
    {
        for (var i = 0; i < 3; i++)
        {
            await c.SendAsync($"GET http://early.example/{i} HTTP/1.1\r\nHost: early.example\r\n\r\n");
            Assert.That((string?)(await c.ReadResponseAsync()).Json["target"], Is.EqualTo($"/p/http://early.example/{i}"));
        }
    }

    private static async Task ServePacedAsync(RawHttpConnection c, string origin, bool isHttps)
    {
        for (var i = 0; i <= PacedRequests; i++)
        {
            if (i > 0)
            {
                // The pacing is the point of the test: time must pass inside the tunnel.
                await Task.Delay(Pace);
            }

            await c.SendAsync($"GET /r{i} HTTP/1.1\r\nHost: late.example\r\n\r\n");
            var response = await c.ReadResponseAsync();
            Assert.That(response.Status, Is.EqualTo(200), $"request {i} after {i * Pace.TotalSeconds} s");
            var json = response.Json;
            Assert.Multiple(() =>
            {
                Assert.That((string?)json["target"], Is.EqualTo($"/p/{origin}/r{i}"));
                Assert.That((bool?)json["isHttps"], Is.EqualTo(isHttps));
            });
        }
    }
}
