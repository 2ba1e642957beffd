using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxTunnel.Connection;

namespace ProxTunnel.Tests.Tunnel;

/// <summary>
/// Pins the undocumented Kestrel behaviours <see cref="KestrelPassContext"/> relies on, and the pass's own contract:
/// nothing from an ended pass reaches the real connection.
/// </summary>
public sealed class KestrelPassContextTests
{
    [Test]
    public async Task Kestrel_RegistersOneHeartbeatOnThePassContextAndNoneOnTheConnection()
    {
        var recorder = new RecordingHeartbeat();
        KestrelPassContext? pass = null;
        await using var app = await StartAsync(next => async context =>
        {
            var real = context.Features.Get<IConnectionHeartbeatFeature>()!;
            context.Features.Set<IConnectionHeartbeatFeature>(recorder);
            recorder.Inner = real;
            pass = new KestrelPassContext(context, context.Transport);
            await next(pass);
            pass.End();
        });
        await GetAsync(app);
        Assert.That(recorder.Registrations, Is.EqualTo(1), "the pass forwards Kestrel's one registration to the connection");
    }

    [Test]
    public async Task Kestrel_ReadsTheSchemeFromTheTlsFeatureOfThePassContext()
    {
        await using var app = await StartAsync(next => async context =>
        {
            var pass = new KestrelPassContext(context, context.Transport);
            pass.Features.Set<ITlsConnectionFeature>(new Microsoft.AspNetCore.Http.Features.TlsConnectionFeature());
            await next(pass);
            pass.End();
        }, http => http.Request.Scheme);
        Assert.That(await GetAsync(app), Does.Contain("\r\nhttps\r\n"));
    }

    [Test]
    public void EndedPass_DropsHeartbeatsAndAborts()
    {
        var connection = new RecordingConnection();
        var pass = new KestrelPassContext(connection, connection.Transport);
        var ticks = 0;
        ((IConnectionHeartbeatFeature)pass.Features.Get<IConnectionHeartbeatFeature>()!).OnHeartbeat(_ => ticks++, this);
        connection.Heartbeat.Tick();
        pass.Abort(new ConnectionAbortedException("live"));
        pass.End();
        connection.Heartbeat.Tick();
        pass.Abort(new ConnectionAbortedException("ended"));
        pass.Features.Get<IConnectionLifetimeFeature>()!.Abort();
        Assert.Multiple(() =>
        {
            Assert.That(ticks, Is.EqualTo(1));
            Assert.That(connection.Aborts, Is.EqualTo(1));
            Assert.That(pass.Features.Get<IConnectionTransportFeature>()!.Transport.Input, Is.SameAs(connection.Transport.Input));
            Assert.That(pass.Features.Get<IConnectionTransportFeature>()!.Transport.Output, Is.SameAs(connection.Transport.Output));
        });
    }

    [Test]
    public void PassFeatures_SetOnThePass_StayOffTheConnection()
    {
        var connection = new RecordingConnection();
        var pass = new KestrelPassContext(connection, connection.Transport);
        pass.Features.Set<ITlsConnectionFeature>(new Microsoft.AspNetCore.Http.Features.TlsConnectionFeature());
        Assert.Multiple(() =>
        {
            Assert.That(connection.Features.Get<ITlsConnectionFeature>(), Is.Null);
            Assert.That(pass.Features.Get<IConnectionIdFeature>(), Is.Null);
            Assert.That(pass.ConnectionId, Is.EqualTo(connection.ConnectionId));
        });
    }

    [Test]
    public void Transport_SetToThePassItself_KeepsItsEnds()
    {
        var connection = new RecordingConnection();
        var pass = new KestrelPassContext(connection, connection.Transport);
        pass.Transport = pass.Transport;
        Assert.Multiple(() =>
        {
            Assert.That(pass.Transport.Input, Is.SameAs(connection.Transport.Input));
            Assert.That(pass.Transport.Output, Is.SameAs(connection.Transport.Output));
        });
    }

    [Test]
    public void NewPass_AllocatesLittleNextToKestrelsOwnConnectionState()
    {
        var connection = new RecordingConnection();
        _ = new KestrelPassContext(connection, connection.Transport);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var pass = new KestrelPassContext(connection, connection.Transport);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        TestContext.Out.WriteLine($"one pass context: {allocated} B");
        GC.KeepAlive(pass);

        // Kestrel's own HTTP/1.1 connection state is several KiB: the pass costs a plain proxy connection a few percent of it.
        Assert.That(allocated, Is.LessThan(640));
    }

    private static async Task<WebApplication> StartAsync(Func<ConnectionDelegate, ConnectionDelegate> middleware, Func<HttpContext, string>? answer = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(o => o.Listen(IPAddress.Loopback, 0, l => l.Use(middleware)));
        var app = builder.Build();
        app.Run(context => context.Response.WriteAsync(answer?.Invoke(context) ?? "ok"));
        await app.StartAsync();
        return app;
    }

    private static async Task<string> GetAsync(WebApplication app)
    {
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, address.Port);
        var stream = client.GetStream();
        await stream.WriteAsync("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"u8.ToArray());
        using var reader = new StreamReader(stream, Encoding.ASCII);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        return await reader.ReadToEndAsync(timeout.Token);
    }

    private sealed class RecordingHeartbeat : IConnectionHeartbeatFeature
    {
        private readonly List<(Action<object> Action, object State)> _callbacks = [];

        public IConnectionHeartbeatFeature? Inner { get; set; }

        public int Registrations => _callbacks.Count;

        public void OnHeartbeat(Action<object> action, object state)
        {
            _callbacks.Add((action, state));
            Inner?.OnHeartbeat(action, state);
        }

        public void Tick()
        {
            foreach (var (action, state) in _callbacks)
            {
                action(state);
            }
        }
    }

    private sealed class RecordingConnection : ConnectionContext
    {
        public RecordingConnection()
        {
            Features.Set<IConnectionHeartbeatFeature>(Heartbeat);
            var pipe = new Pipe();
            Transport = new Connection.DuplexPipe(pipe.Reader, pipe.Writer);
        }

        public RecordingHeartbeat Heartbeat { get; } = new();

        public int Aborts { get; private set; }

        public override string ConnectionId { get; set; } = "c1";

        public override Microsoft.AspNetCore.Http.Features.IFeatureCollection Features { get; } = new Microsoft.AspNetCore.Http.Features.FeatureCollection();

        public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

        public override IDuplexPipe Transport { get; set; }

        public override void Abort(ConnectionAbortedException abortReason) => Aborts++;
    }
}
