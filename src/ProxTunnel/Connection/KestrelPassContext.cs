using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace ProxTunnel.Connection;

/// <summary>
/// The <see cref="ConnectionContext"/> one Kestrel pass runs on when another pass may follow on the same connection
/// (a plain proxy connection that later sends CONNECT). Kestrel's connection handler is built to run once per context:
/// it registers a heartbeat callback it never removes, reads the TLS features once to fix the scheme, and aborts the
/// context from timeouts armed by its last request. Giving each pass its own context keeps all of that inside the pass:
/// the heartbeat is forwarded, and <see cref="Abort(ConnectionAbortedException)"/> reaches the real connection, only
/// while the pass is live (<see cref="End"/> cuts both), and whatever Kestrel sets on <see cref="Features"/> stays here.
/// Everything else (id, endpoints, items, the closed token, transport-level features) is the real connection's.
/// <para>
/// What Kestrel's HTTP layer (ASP.NET Core 10: <c>HttpConnectionMiddleware</c>, <c>HttpConnection</c>,
/// <c>HttpProtocol</c>) uses of the context, and where it lands here: it reads <c>IMemoryPoolFeature</c>, the
/// internal <c>HttpProtocolsFeature</c>, <c>IConnectionMetricsContextFeature</c> (required), the endpoints and
/// <see cref="Transport"/> (all the connection's, through the feature defaults); it selects the protocol from
/// <c>ITlsConnectionFeature</c>/<c>ITlsApplicationProtocolFeature</c> and fixes the scheme from
/// <c>ITlsConnectionFeature</c> (set on the connection before the pass, so visible here); it registers a heartbeat
/// callback on <see cref="IConnectionHeartbeatFeature"/> for good (gated here), registers on
/// <c>IConnectionLifetimeNotificationFeature.ConnectionClosedRequested</c> and <see cref="ConnectionClosed"/> for the
/// pass only; its output producer aborts through <see cref="Abort(ConnectionAbortedException)"/> (gated here); and
/// request features it does not know fall back to these connection features, so the app sees
/// <c>IProxyTunnelFeature</c> and the TLS features. <c>KestrelPassContextTests</c> pins the heartbeat and scheme facts.
/// </para>
/// </summary>
internal sealed class KestrelPassContext : ConnectionContext, IConnectionHeartbeatFeature, IConnectionLifetimeFeature, IConnectionTransportFeature
{
    private readonly ConnectionContext _parent;
    private readonly PassFeatures _features;
    private readonly Lock _lock = new();
    private List<KeyValuePair<Action<object>, object>>? _heartbeats;
    private bool _registeredWithParent;
    private volatile bool _live = true;

    public KestrelPassContext(ConnectionContext parent, IDuplexPipe transport)
    {
        _parent = parent;
        Transport = transport;

        // The features whose members act on the connection itself answer for this pass only.
        _features = new PassFeatures(this, parent.Features);
    }

    public override string ConnectionId
    {
        get => _parent.ConnectionId;
        set => _parent.ConnectionId = value;
    }

    public override IFeatureCollection Features => _features;

    public override IDictionary<object, object?> Items
    {
        get => _parent.Items;
        set => _parent.Items = value;
    }

    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed
    {
        get => _parent.ConnectionClosed;
        set => _parent.ConnectionClosed = value;
    }

    public override EndPoint? LocalEndPoint
    {
        get => _parent.LocalEndPoint;
        set => _parent.LocalEndPoint = value;
    }

    public override EndPoint? RemoteEndPoint
    {
        get => _parent.RemoteEndPoint;
        set => _parent.RemoteEndPoint = value;
    }

    /// <summary>Ends the pass: later heartbeats and aborts from it are dropped.</summary>
    public void End()
    {
        lock (_lock)
        {
            _live = false;
            _heartbeats = null;
        }
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        if (_live)
        {
            _parent.Abort(abortReason);
        }
    }

    public override void Abort()
    {
        if (_live)
        {
            _parent.Abort();
        }
    }

    public void OnHeartbeat(Action<object> action, object state)
    {
        lock (_lock)
        {
            if (!_live)
            {
                return;
            }

            (_heartbeats ??= new List<KeyValuePair<Action<object>, object>>(1)).Add(new(action, state));
            if (_registeredWithParent)
            {
                return;
            }

            _registeredWithParent = true;
        }

        // The parent cannot unregister a callback; ours goes quiet once the pass ends.
        _parent.Features.Get<IConnectionHeartbeatFeature>()?.OnHeartbeat(static state => ((KestrelPassContext)state).Tick(), this);
    }

    private void Tick()
    {
        lock (_lock)
        {
            if (!_live || _heartbeats is null)
            {
                return;
            }

            foreach (var (action, state) in _heartbeats)
            {
                action(state);
            }
        }
    }
}
