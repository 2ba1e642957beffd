using System.Collections;
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
/// <para>
/// An idle keep-alive connection keeps its pass for as long as it lives, so the pass is one object (issue 13.1): it is
/// its own feature collection (a <see cref="FeatureCollection"/> is created only when something is set), its own
/// transport pipe, and keeps Kestrel's one heartbeat registration in a field; it locks on itself, which nobody else
/// can reach as a lock (Kestrel sees it only as a context).
/// </para>
/// </summary>
internal sealed class KestrelPassContext : ConnectionContext, IFeatureCollection, IDuplexPipe, IConnectionHeartbeatFeature,
    IConnectionLifetimeFeature, IConnectionTransportFeature
{
    private readonly ConnectionContext _parent;
    private FeatureCollection? _set;
    private IDuplexPipe _transport;

    // Kestrel registers one heartbeat per pass: a slot for it, not a list.
    private Action<object>? _heartbeat;
    private object? _heartbeatState;
    private bool _registeredWithParent;
    private volatile bool _live = true;

    public KestrelPassContext(ConnectionContext parent, IDuplexPipe transport)
    {
        _parent = parent;
        _transport = transport;
    }

    /// <summary>The real connection this pass runs on.</summary>
    public ConnectionContext Parent => _parent;

    public override string ConnectionId
    {
        get => _parent.ConnectionId;
        set => _parent.ConnectionId = value;
    }

    // The features whose members act on the connection itself answer for this pass only.
    public override IFeatureCollection Features => this;

    public override IDictionary<object, object?> Items
    {
        get => _parent.Items;
        set => _parent.Items = value;
    }

    /// <summary>This pass itself: its <see cref="Input"/> and <see cref="Output"/> are the given pipe's (read when asked,
    /// as a pipe's ends may be set up after the pass is made); setting it takes the given pipe.</summary>
    public override IDuplexPipe Transport
    {
        get => this;
        set => _transport = ReferenceEquals(value, this) ? _transport : value;
    }

    public PipeReader Input => _transport.Input;

    public PipeWriter Output => _transport.Output;

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

    bool IFeatureCollection.IsReadOnly => false;

    int IFeatureCollection.Revision => _set?.Revision ?? _parent.Features.Revision;

    object? IFeatureCollection.this[Type key]
    {
        get
        {
            if (_set is null && (key == typeof(IConnectionHeartbeatFeature) || key == typeof(IConnectionLifetimeFeature)
                || key == typeof(IConnectionTransportFeature)))
            {
                return this;
            }

            return _set is null ? _parent.Features[key] : _set[key];
        }

        set => OwnFeatures()[key] = value;
    }

    TFeature? IFeatureCollection.Get<TFeature>() where TFeature : default => (TFeature?)((IFeatureCollection)this)[typeof(TFeature)];

    void IFeatureCollection.Set<TFeature>(TFeature? instance) where TFeature : default => ((IFeatureCollection)this)[typeof(TFeature)] = instance;

    IEnumerator<KeyValuePair<Type, object>> IEnumerable<KeyValuePair<Type, object>>.GetEnumerator()
        => ((IEnumerable<KeyValuePair<Type, object>>)OwnFeatures()).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable)OwnFeatures()).GetEnumerator();

    /// <summary>Ends the pass: later heartbeats and aborts from it are dropped.</summary>
    public void End()
    {
        lock (this)
        {
            _live = false;
            _heartbeat = null;
            _heartbeatState = null;
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
        lock (this)
        {
            if (!_live)
            {
                return;
            }

            if (_heartbeat is not { } earlier)
            {
                (_heartbeat, _heartbeatState) = (action, state);
            }
            else
            {
                // Any further registration joins the slot's callback: rare enough to allocate.
                var earlierState = _heartbeatState!;
                (_heartbeat, _heartbeatState) = (_ =>
                {
                    earlier(earlierState);
                    action(state);
                }, this);
            }

            if (_registeredWithParent)
            {
                return;
            }

            _registeredWithParent = true;
        }

        // The parent cannot unregister a callback; ours goes quiet once the pass ends.
        _parent.Features.Get<IConnectionHeartbeatFeature>()?.OnHeartbeat(static state => ((KestrelPassContext)state).Tick(), this);
    }

    /// <summary>A collection of this pass's own, made when something is set on it: the connection's stay untouched.</summary>
    private FeatureCollection OwnFeatures()
    {
        if (_set is null)
        {
            _set = new FeatureCollection(_parent.Features);
            _set.Set<IConnectionHeartbeatFeature>(this);
            _set.Set<IConnectionLifetimeFeature>(this);
            _set.Set<IConnectionTransportFeature>(this);
        }

        return _set;
    }

    private void Tick()
    {
        lock (this)
        {
            if (!_live || _heartbeat is null)
            {
                return;
            }

            _heartbeat(_heartbeatState!);
        }
    }
}
