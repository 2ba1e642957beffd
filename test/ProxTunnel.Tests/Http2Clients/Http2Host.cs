using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ProxTunnel.Certificates;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Http2Clients;

/// <summary>
/// A <see cref="TestApp"/> (the <c>UseProxyTunnel</c> listener, prefix <c>/prefix/</c>, listener protocols left at
/// Kestrel's default) with a second, direct <c>UseHttps</c> HTTP/1.1+HTTP/2 listener holding a certificate for
/// <see cref="Host"/>. Both reach the same app, which records every request in full and answers with a JSON echo.
/// </summary>
internal sealed class Http2Host : IAsyncDisposable
{
    public const string Host = "example.com";
    public const string Prefix = "/prefix/";

    /// <summary>Paths ending in this stream <see cref="BigResponseLength"/> bytes instead of the echo.</summary>
    public const string BigResponsePath = "/big-response";
    public const int BigResponseLength = 2 * 1024 * 1024;

    private TestApp _app = null!;
    private ListenOptions _direct = null!;

    private Http2Host()
    {
    }

    public ProxyCertificateAuthority Authority => _app.Authority;

    public string Directory => _app.Directory;

    /// <summary>The root certificate alone, for clients that take a CA file.</summary>
    public string RootPemPath => Path.Combine(Directory, "root.pem");

    public int ProxyPort => _app.Port;

    public int DirectPort => _direct.IPEndPoint?.Port ?? throw new InvalidOperationException("listener not bound");

    public Uri ProxyUri => _app.ProxyUri;

    /// <summary>Every request the app has seen, in arrival order.</summary>
    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>Answer every recorded request with an empty 204 instead of the JSON echo (the differential test reads only statuses).</summary>
    public bool QuietResponses { get; set; }

    /// <summary>Extra routes a test needs, answered before the echo (path → handler).</summary>
    public ConcurrentDictionary<string, Func<HttpContext, Task>> Routes { get; } = new(StringComparer.Ordinal);

    /// <summary>The target the app sees for <paramref name="pathAndQuery"/> through the tunnel, or directly.</summary>
    public static string ExpectedTarget(bool throughTunnel, string pathAndQuery) =>
        throughTunnel ? $"{Prefix}https://{Host}{pathAndQuery}" : pathAndQuery;

    public static async Task<Http2Host> StartAsync(Action<ProxyTunnelOptions>? configure = null)
    {
        var host = new Http2Host();
        host._app = await TestApp.StartAsync(
            t =>
            {
                t.Prefix = Prefix;
                configure?.Invoke(t);
            },

            // Terminal: TestApp's catch-all echo never runs, this host's fuller recorder answers instead.
            mapExtra: app => app.Run(host.HandleAsync),
            extraListeners: (o, authority) => o.Listen(IPAddress.Loopback, 0, l =>
            {
                host._direct = l;
                l.Protocols = HttpProtocols.Http1AndHttp2;
                l.UseHttps(authority.GetHostCertificate(Host));
            }));
        await File.WriteAllTextAsync(host.RootPemPath, host.Authority.RootCertificate.ExportCertificatePem());
        return host;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var target = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
        if (context.WebSockets.IsWebSocketRequest)
        {
            Requests.Enqueue(Record(context, target, 0, "", []));
            await EchoWebSocketAsync(context, target);
            return;
        }

        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long length = 0;
        var chunk = new byte[16384];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            sha.AppendData(chunk, 0, read);
            length += read;
        }

        var trailers = new List<KeyValuePair<string, string>>();
        if (context.Request.SupportsTrailers() && context.Request.CheckTrailersAvailable())
        {
            foreach (var trailer in context.Features.Get<IHttpRequestTrailersFeature>()!.Trailers)
            {
                trailers.AddRange(trailer.Value.Select(v => KeyValuePair.Create(trailer.Key, v ?? "")));
            }
        }

        var record = Record(context, target, length, Convert.ToHexStringLower(sha.GetHashAndReset()), trailers);
        Requests.Enqueue(record);
        if (QuietResponses)
        {
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        var path = context.Request.Path.Value ?? "";
        foreach (var (suffix, handler) in Routes)
        {
            if (path.EndsWith(suffix, StringComparison.Ordinal))
            {
                await handler(context);
                return;
            }
        }

        if (path.EndsWith(BigResponsePath, StringComparison.Ordinal))
        {
            context.Response.ContentLength = BigResponseLength;
            var block = new byte[64 * 1024];
            for (var sent = 0; sent < BigResponseLength; sent += block.Length)
            {
                await context.Response.Body.WriteAsync(block, context.RequestAborted);
            }

            return;
        }

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(ToJson(record).ToJsonString(), context.RequestAborted);
    }

    private static RecordedRequest Record(HttpContext context, string target, long length, string sha, List<KeyValuePair<string, string>> trailers)
    {
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var header in context.Request.Headers)
        {
            headers.AddRange(header.Value.Select(v => KeyValuePair.Create(header.Key, v ?? "")));
        }

        return new RecordedRequest(context.Request.Protocol, context.Request.Method, target, context.Request.IsHttps, headers, length, sha, trailers,
            context.Connection.Id);
    }

    private static async Task EchoWebSocketAsync(HttpContext context, string target)
    {
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var buffer = new byte[4096];
        for (var messages = 0; messages < 1000; messages++)
        {
            var received = await socket.ReceiveAsync(buffer, context.RequestAborted);
            if (received.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, context.RequestAborted);
                return;
            }

            var reply = Encoding.UTF8.GetBytes($"{context.Request.Protocol} {target} {Encoding.UTF8.GetString(buffer, 0, received.Count)}");
            await socket.SendAsync(reply, WebSocketMessageType.Text, true, context.RequestAborted);
        }
    }

    public static JsonObject ToJson(RecordedRequest record)
    {
        static JsonArray Pairs(IEnumerable<KeyValuePair<string, string>> pairs) =>
            new(pairs.Select(p => (JsonNode)new JsonArray(p.Key, p.Value)).ToArray());

        return new JsonObject
        {
            ["protocol"] = record.Protocol,
            ["method"] = record.Method,
            ["target"] = record.Target,
            ["isHttps"] = record.IsHttps,
            ["headers"] = Pairs(record.Headers),
            ["bodyLength"] = record.BodyLength,
            ["bodySha256"] = record.BodySha256,
            ["trailers"] = Pairs(record.Trailers),
            ["connection"] = record.ConnectionId,
        };
    }

    /// <summary>Trusts exactly this host's root (name checks stay on).</summary>
    public bool ValidateWithRoot(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        _app.ValidateWithRoot(sender, certificate, chain, errors);

    /// <summary>A handler that proxies through this host's tunnel listener (or goes direct with <paramref name="direct"/>, mapping <see cref="Host"/> to the direct port).</summary>
    public SocketsHttpHandler CreateHandler(bool direct = false)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = ValidateWithRoot },
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        if (direct)
        {
            handler.UseProxy = false;
            handler.ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(IPAddress.Loopback, DirectPort, cancellationToken);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }
        else
        {
            handler.UseProxy = true;
            handler.Proxy = new WebProxy(ProxyUri);
        }

        return handler;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
