using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// The child process of the memory scenario, so the server's RSS holds only server-side state: opens N connections of
/// one <see cref="Modes">mode</see>, sends one request on each, prints READY, and holds them idle until its parent
/// writes a line (or 5 minutes pass).
/// </summary>
internal static class IdleClient
{
    public const string Command = "idle-client";

    /// <summary>How each kind of idle connection is opened and how its first request is sent (returning the status).
    /// Add a mode here (and a row in <see cref="IdleMemoryScenarios"/>) for a new kind.</summary>
    public static readonly IReadOnlyDictionary<string, (Func<IPEndPoint, RootTrust, CancellationToken, Task<RawHttpConnection>> Open, Func<RawHttpConnection, CancellationToken, ValueTask<int>> Send)> Modes =
        new Dictionary<string, (Func<IPEndPoint, RootTrust, CancellationToken, Task<RawHttpConnection>>, Func<RawHttpConnection, CancellationToken, ValueTask<int>>)>
        {
            ["plain"] = ((endPoint, _, token) => RawHttpConnection.ConnectAsync(endPoint, token), Http11("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")),
            ["proxy"] = ((endPoint, _, token) => RawHttpConnection.ConnectAsync(endPoint, token), Http11("GET http://example.com/hello HTTP/1.1\r\nHost: example.com\r\n\r\n")),
            ["tunnel"] = ((endPoint, trust, token) => RawHttpConnection.OpenTunnelAsync(endPoint, "example.com", trust, token), Http11("GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n")),
            ["direct"] = ((endPoint, trust, token) => RawHttpConnection.OpenTlsAsync(endPoint, "localhost", trust, token), Http11("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")),
            ["https-proxy"] = ((endPoint, trust, token) => RawHttpConnection.OpenTlsAsync(endPoint, "localhost", trust, token), Http11("GET http://example.com/hello HTTP/1.1\r\nHost: example.com\r\n\r\n")),
            ["tunnel-h2"] = ((endPoint, trust, token) => RawHttpConnection.OpenTunnelAsync(endPoint, "example.com", trust, SslApplicationProtocol.Http2, token),
                (connection, token) => connection.SendHttp2GetAsync("example.com", token)),
            ["direct-h2"] = ((endPoint, trust, token) => RawHttpConnection.OpenTlsAsync(endPoint, "localhost", trust, SslApplicationProtocol.Http2, token),
                (connection, token) => connection.SendHttp2GetAsync("localhost", token)),
        };

    private static Func<RawHttpConnection, CancellationToken, ValueTask<int>> Http11(string request)
    {
        var bytes = Encoding.ASCII.GetBytes(request);
        return async (connection, token) => (await connection.SendAsync(bytes, token)).Status;
    }

    /// <summary>Arguments: MODE PORT COUNT ROOT-DER-PATH.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var (open, send) = Modes[args[0]];
        var endPoint = new IPEndPoint(IPAddress.Loopback, int.Parse(args[1], CultureInfo.InvariantCulture));
        var count = int.Parse(args[2], CultureInfo.InvariantCulture);
        var trust = new RootTrust(X509CertificateLoader.LoadCertificateFromFile(args[3]));
        var connections = new RawHttpConnection[count];
        var next = -1;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));

        async Task OpenAsync()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var connection = await open(endPoint, trust, timeout.Token);
                var status = await send(connection, timeout.Token);
                if (status != 200)
                {
                    throw new InvalidOperationException($"status {status}");
                }

                connections[i] = connection;
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(OpenAsync)));
        Console.WriteLine("READY");
        var line = Console.In.ReadLineAsync(CancellationToken.None).AsTask();
        await Task.WhenAny(line, Task.Delay(TimeSpan.FromMinutes(5)));
        foreach (var connection in connections)
        {
            await connection.DisposeAsync();
        }

        return 0;
    }
}
