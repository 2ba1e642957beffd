using System.Net;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace ProxTunnel.Tests.Gateway;

/// <summary>WebSocket clients (Python websocket-client and .NET ClientWebSocket) through the gateway's inspector.</summary>
[NonParallelizable]
public sealed class GatewayWebSocketTests
{
    private const string PythonClient = """
        import sys, websocket
        url, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        ws = websocket.create_connection(url, http_proxy_host="127.0.0.1", http_proxy_port=port, proxy_type="http",
                                         sslopt={"ca_certs": ca}, timeout=20)
        for m in ("hello", "second message"):
            ws.send(m)
            print(ws.recv())
        ws.close()
        """;

    private GatewayProcess _gateway = null!;
    private string _root = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _gateway = await GatewayProcess.StartAsync();
        _root = await Curl.DownloadRootAsync(_gateway);
    }

    [OneTimeTearDown]
    public async Task StopAsync() => await _gateway.DisposeAsync();

    [TestCase("ws://example.com/chat?room=1", "/prefix/http://example.com/chat?room=1")]
    [TestCase("wss://example.com/chat?room=2", "/prefix/https://example.com/chat?room=2")]
    [TestCase("ws://example.com:8080/p", "/prefix/http://example.com:8080/p")]
    [TestCase("wss://example.com:9443/p", "/prefix/https://example.com:9443/p")]
    public async Task PythonClient_WhenEchoing_RepliesArePrefixedWithTarget(string url, string target)
    {
        var script = Path.Combine(_gateway.Directory, "ws_client.py");
        await File.WriteAllTextAsync(script, PythonClient);
        var result = await ExternalProcess.RunAsync("/usr/bin/python3", [script, url, _gateway.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), _root],
            TimeSpan.FromSeconds(45));
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { $"{target} hello", $"{target} second message" }));
    }

    [TestCase("ws://example.com/net", "/prefix/http://example.com/net")]
    [TestCase("wss://example.com/net", "/prefix/https://example.com/net")]
    public async Task ClientWebSocket_ThroughProxy_EchoesWithTarget(string url, string target)
    {
        using var root = X509CertificateLoader.LoadCertificateFromFile(_root);
        using var socket = new ClientWebSocket();
        socket.Options.Proxy = new WebProxy(_gateway.ProxyUrl);
        socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, errors) => Trusted(root, certificate, errors);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new Uri(url), cts.Token);
        await socket.SendAsync(Encoding.UTF8.GetBytes("ping"), WebSocketMessageType.Text, true, cts.Token);
        var buffer = new byte[4096];
        var received = await socket.ReceiveAsync(buffer, cts.Token);
        Assert.That(Encoding.UTF8.GetString(buffer, 0, received.Count), Is.EqualTo($"{target} ping"));
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
        Assert.That(socket.State, Is.EqualTo(WebSocketState.Closed));
    }

    internal static bool Trusted(X509Certificate2 root, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }
}
