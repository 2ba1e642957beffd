using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// The child process of the memory scenario, so the server's RSS holds only server-side state: opens N TLS
/// connections (through CONNECT, or straight to the UseHttps listener), sends one request on each, prints READY, and
/// holds them idle until its parent writes a line (or 5 minutes pass).
/// </summary>
internal static class IdleClient
{
    public const string Command = "idle-client";

    /// <summary>Arguments: tunnel|direct PORT COUNT ROOT-DER-PATH.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var tunnel = args[0] == "tunnel";
        var endPoint = new IPEndPoint(IPAddress.Loopback, int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
        var count = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
        var trust = new RootTrust(X509CertificateLoader.LoadCertificateFromFile(args[3]));
        var host = tunnel ? "example.com" : "localhost";
        var request = Encoding.ASCII.GetBytes($"GET /hello HTTP/1.1\r\nHost: {host}\r\n\r\n");
        var connections = new RawHttpConnection[count];
        var next = -1;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        async Task OpenAsync()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var connection = tunnel
                    ? await RawHttpConnection.OpenTunnelAsync(endPoint, host, trust, timeout.Token)
                    : await RawHttpConnection.OpenTlsAsync(endPoint, host, trust, timeout.Token);
                var (status, _) = await connection.SendAsync(request, timeout.Token);
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
