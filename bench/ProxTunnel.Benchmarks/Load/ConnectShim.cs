using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// Lets a client without proxy support (h2load) use the proxy: a loopback listener that, for every accepted
/// connection, opens a connection to the proxy, sends <c>CONNECT host:port</c>, waits for 200 and then pipes bytes
/// both ways untouched, so the client's TLS handshake and HTTP/2 run inside the tunnel. Without an authority it is a
/// plain relay, so a direct run can pay for the same extra hop and the comparison isolates the proxy's own cost.
/// </summary>
internal sealed class ConnectShim : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _proxy;
    private readonly string? _authority;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accepting;

    private ConnectShim(IPEndPoint proxy, string? authority)
    {
        _proxy = proxy;
        _authority = authority;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(512);
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static ConnectShim Start(IPEndPoint proxy, string host, int port) => new(proxy, $"{host}:{port}");

    public static ConnectShim StartRelay(IPEndPoint target) => new(target, null);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            lock (_connections)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(ServeAsync(client));
            }
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var clientSocket = client;
        using var proxy = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        try
        {
            await proxy.ConnectAsync(_proxy, _stop.Token);
            await using var proxyStream = new NetworkStream(proxy, ownsSocket: false);
            await using var clientStream = new NetworkStream(client, ownsSocket: false);
            if (_authority is not null)
            {
                await proxyStream.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT {_authority} HTTP/1.1\r\nHost: {_authority}\r\n\r\n"), _stop.Token);
                await ReadConnectAnswerAsync(proxyStream);
            }

            await Task.WhenAll(PipeAsync(clientStream, proxy), PipeAsync(proxyStream, client));
        }
        catch (Exception error) when (error is IOException or SocketException or OperationCanceledException or InvalidOperationException)
        {
            // One tunnel failing (a client hanging up mid-run, the shim stopping) ends only that tunnel.
        }
    }

    private async Task ReadConnectAnswerAsync(NetworkStream proxy)
    {
        var head = new List<byte>();
        var one = new byte[1];

        // Byte by byte and bounded: the TLS bytes that follow the answer belong to the client.
        while (head.Count < 8192 && !(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await proxy.ReadAsync(one, _stop.Token) == 0)
            {
                throw new IOException("proxy closed before answering CONNECT");
            }

            head.Add(one[0]);
        }

        var status = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n")[0];
        if (!status.Contains(" 200 ", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("CONNECT answered " + status);
        }
    }

    private async Task PipeAsync(NetworkStream from, Socket to)
    {
        try
        {
            await from.CopyToAsync(new NetworkStream(to, ownsSocket: false), 64 * 1024, _stop.Token);
        }
        finally
        {
            if (to.Connected)
            {
                to.Shutdown(SocketShutdown.Send);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll(connections);
        _stop.Dispose();
    }
}
