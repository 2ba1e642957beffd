using System.Net.Sockets;
using System.Text;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Tunnel;

/// <summary>SPEC §3.7: a refused request gets a 400 status line the client can read, then a close, never a bare reset.</summary>
public sealed class CleanRefusalTests
{
    [TestCase("5 \r\nhello\r\n0\r\n\r\n", "size-trailing-space")]
    [TestCase("zz\r\nhello\r\n0\r\n\r\n", "size-not-hex")]
    [TestCase("5\r\nhelloXX0\r\n\r\n", "data-no-crlf")]
    [TestCase("5\r\nhello\r\n0\r\nBad Trailer\r\n\r\n", "trailer-space-in-name")]
    [TestCase("80000000\r\n", "size-over-2^31")]
    public async Task MalformedChunkedBody_Gets400ThenClose(string body, string name)
    {
        await using var app = await TestApp.StartAsync();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(System.Net.IPAddress.Loopback, app.Port);
        var smuggled = "GET http://example.com/smuggled HTTP/1.1\r\nHost: example.com\r\n\r\n";
        var request = "POST http://example.com/upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n" + body + smuggled + new string('x', 2000);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));

        var (received, reset) = await ReadToEndAsync(socket);
        Assert.Multiple(() =>
        {
            Assert.That(received, Does.StartWith("HTTP/1.1 400 "), name);
            Assert.That(reset, Is.False, $"{name}: the connection must close cleanly, not reset");
            Assert.That(app.SeenTargets, Has.None.Contains("smuggled"));
        });
    }

    [Test]
    public async Task MalformedChunkedBodyInTlsTunnel_Gets400ThenClose()
    {
        await using var app = await TestApp.StartAsync();
        await using var c = await RawHttpConnection.OpenAsync(app.Port);
        await c.ConnectAsync("example.com:443");
        await c.StartTlsAsync(app, "example.com");
        await c.SendAsync("POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: example.com\r\n\r\n");
        var response = await c.ReadResponseAsync(expectBody: false);
        Assert.Multiple(async () =>
        {
            Assert.That(response.Status, Is.EqualTo(400));
            Assert.That(await c.IsClosedByServerAsync(), Is.True);
            Assert.That(app.SeenTargets, Has.None.Contains("smuggled"));
        });
    }

    /// <summary>Everything the server sends until it closes; <c>reset</c> is true when the close was a TCP reset.</summary>
    internal static async Task<(string Received, bool Reset)> ReadToEndAsync(Socket socket)
    {
        var received = new StringBuilder();
        var buffer = new byte[8192];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        for (var i = 0; i < 10_000; i++)
        {
            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                return (received.ToString(), true);
            }

            if (read == 0)
            {
                return (received.ToString(), false);
            }

            received.Append(Encoding.Latin1.GetString(buffer, 0, read));
        }

        return (received.ToString(), false);
    }
}
