using System.Net;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Certificates;

[TestFixture]
public sealed class NewHostBurstTests
{
    private const int NewHosts = 200;

    [Test]
    public async Task TunnelHandshake_ForCachedHost_CompletesWhile200NewHostsAreIssued()
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        app.Authority.GetCertificateContext("cached.example");
        var issuedBefore = app.Authority.IssuedCount;
        using var client = app.CreateClient();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(120));

        var burst = Enumerable.Range(0, NewHosts)
            .Select(i => client.GetAsync(new Uri($"https://n{i}.burst.example/"), bound.Token))
            .ToArray();

        // Handshakes for a cached host, one after another while the burst is being issued: each must get through.
        var cachedHandshakes = 0;
        for (var i = 0; i < 10 && !bound.IsCancellationRequested; i++)
        {
            await using var connection = await RawHttpConnection.OpenAsync(app.Port);
            var connect = await connection.ConnectAsync("cached.example:443");
            Assert.That(connect.Status, Is.EqualTo(200));
            await connection.StartTlsAsync(app, "cached.example");
            await connection.SendAsync("GET /x HTTP/1.1\r\nHost: cached.example\r\n\r\n");
            var response = await connection.ReadResponseAsync();
            Assert.That(response.Status, Is.EqualTo(200));
            cachedHandshakes++;
        }

        var responses = await Task.WhenAll(burst);
        try
        {
            Assert.That(cachedHandshakes, Is.EqualTo(10));
            Assert.That(responses.Select(r => r.StatusCode), Is.All.EqualTo(HttpStatusCode.OK));
            Assert.That(app.Authority.IssuedCount - issuedBefore, Is.EqualTo(NewHosts), "one issuance per new host");
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }
}
