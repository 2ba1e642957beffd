using System.Net.Sockets;
using System.Text;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Tunnel;

/// <summary>
/// A measurement, not a check (run it explicitly): bytes allocated in this process (server and client) per connection
/// that sends one request and closes, for a plain proxy connection and for a fresh CONNECT. Compare across commits.
/// </summary>
[Explicit("measurement")]
public sealed class AllocationProbeTests
{
    [TestCase("plain")]
    [TestCase("connect")]
    public async Task ReportsAllocatedBytesPerConnection_WhenOneRequestThenClose(string kind)
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = "/p/");
        async Task OneAsync()
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", app.Port);
            var stream = client.GetStream();
            var request = kind == "plain"
                ? "GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
                : "CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\nGET /a HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
            var buffer = new byte[8192];
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        }

        for (var i = 0; i < 200; i++)
        {
            await OneAsync();
        }

        const int n = 1000;
        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < n; i++)
        {
            await OneAsync();
        }

        var after = GC.GetTotalAllocatedBytes(precise: true);
        TestContext.Out.WriteLine($"{kind}: {(after - before) / n} B per connection (client and server, one request)");
    }
}
