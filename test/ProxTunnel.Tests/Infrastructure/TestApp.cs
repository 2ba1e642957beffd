using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxTunnel.Certificates;

namespace ProxTunnel.Tests.Infrastructure;

/// <summary>A real Kestrel app on 127.0.0.1:0 behind UseProxyTunnel, answering every request with what it received.</summary>
internal sealed class TestApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestApp(WebApplication app, ProxyCertificateAuthority authority, string directory)
    {
        _app = app;
        Authority = authority;
        Directory = directory;
    }

    private void ReadAddresses()
    {
        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToArray();
        ProxyUri = new Uri(addresses[0]);
        if (addresses.Length > 1)
        {
            SecondUri = new Uri(addresses[1]);
        }
    }

    /// <summary>Every raw target the app received, in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> SeenTargets { get; } = new();

    public ProxyCertificateAuthority Authority { get; }

    public IServiceProvider Services => _app.Services;

    public string Directory { get; }

    /// <summary>The UseProxyTunnel listener.</summary>
    public Uri ProxyUri { get; private set; } = null!;

    /// <summary>A second listener, when the test asked for one.</summary>
    public Uri? SecondUri { get; private set; }

    public int Port => ProxyUri.Port;

    
    public static async Task<TestApp> StartAsync(Action<ProxyTunnelOptions>? configure = null, Action<WebApplication>? mapExtra = null,
        Action<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions, ProxyCertificateAuthority>? extraListeners = null, bool httpsBeforeTunnel = false)
    {
        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var authority = new ProxyCertificateAuthority(new CertificateAuthorityOptions { RootCertificatePath = Path.Combine(directory, "ca.pem") });
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.Listen(IPAddress.Loopback, 0, l =>
            {
                if (httpsBeforeTunnel)
                {
                    l.UseHttps(authority.GetHostCertificate("127.0.0.1"));
                }

                l.UseProxyTunnel(t =>
                {
                    t.CertificateAuthorityInstance = authority;
                    configure?.Invoke(t);
                });
            });
            extraListeners?.Invoke(o, authority);
        });
        var app = builder.Build();
        var testApp = new TestApp(app, authority, directory);
        app.Use((context, next) =>
        {
            testApp.SeenTargets.Enqueue(context.Features.Get<IHttpRequestFeature>()!.RawTarget);
            return next(context);
        });
        app.UseWebSockets();
        mapExtra?.Invoke(app);
        app.Map("/{**catchAll}", EchoAsync);
        await app.StartAsync();
        testApp.ReadAddresses();
        return testApp;
    }

    /// <summary>Writes what the app saw as JSON (the same shape as the gateway's inspector).</summary>
    public static async Task EchoAsync(HttpContext context)
    {
        if (context.WebSockets.IsWebSocketRequest)
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var target = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
            var buffer = new byte[4096];
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, context.RequestAborted);
                if (received.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
                {
                    await socket.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, context.RequestAborted);
                    return;
                }

                var reply = System.Text.Encoding.UTF8.GetBytes(target + " " + System.Text.Encoding.UTF8.GetString(buffer, 0, received.Count));
                await socket.SendAsync(reply, System.Net.WebSockets.WebSocketMessageType.Text, true, context.RequestAborted);
            }
        }

        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long length = 0;
        var chunk = new byte[16384];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk)) > 0)
        {
            sha.AppendData(chunk, 0, read);
            length += read;
        }

        var tunnel = context.Features.Get<IProxyTunnelFeature>();
        var headers = new JsonObject();
        foreach (var header in context.Request.Headers)
        {
            headers[header.Key] = header.Value.ToString();
        }

        var json = new JsonObject
        {
            ["method"] = context.Request.Method,
            ["target"] = context.Features.Get<IHttpRequestFeature>()!.RawTarget,
            ["host"] = context.Request.Host.Value,
            ["isHttps"] = context.Request.IsHttps,
            ["headers"] = headers,
            ["bodyLength"] = length,
            ["bodySha256"] = Convert.ToHexStringLower(sha.GetHashAndReset()),
            ["tlsHostName"] = context.Features.Get<Microsoft.AspNetCore.Connections.Features.ITlsHandshakeFeature>()?.HostName,
            ["tunnel"] = tunnel is null ? null : new JsonObject
            {
                ["host"] = tunnel.ConnectHost,
                ["port"] = tunnel.ConnectPort,
                ["sni"] = tunnel.ServerName,
                ["tls"] = tunnel.IsTlsTerminated,
                ["proxyAuthorization"] = tunnel.ProxyAuthorization,
            },
        };
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json.ToJsonString());
    }

    /// <summary>An HttpClient that uses this app as its proxy and trusts only its root.</summary>
    public HttpClient CreateClient(ICredentials? proxyCredentials = null, Uri? proxy = null)
    {
        var handler = new SocketsHttpHandler
        {
            Proxy = new WebProxy(proxy ?? ProxyUri) { Credentials = proxyCredentials },
            UseProxy = true,
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = ValidateWithRoot },
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    public bool ValidateWithRoot(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return false;
        }

        if ((errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.Add(Authority.RootCertificate);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return custom.Build(new X509Certificate2(certificate));
    }

    public static JsonNode ParseJson(string body) => JsonNode.Parse(body) ?? throw new InvalidOperationException("empty JSON");

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Authority.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
