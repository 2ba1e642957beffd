using System.Collections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace ProxTunnel.Connection;

/// <summary>
/// The features of one <see cref="KestrelPassContext"/>: the three it answers itself, then whatever Kestrel sets during
/// the pass, then the connection's. A <see cref="FeatureCollection"/> over the connection's would do the same, but
/// keeps a dictionary for the three for the whole life of an idle keep-alive connection (issue 13.1); this one
/// creates its own collection only when something is set.
/// </summary>
internal sealed class PassFeatures(KestrelPassContext pass, IFeatureCollection connection) : IFeatureCollection
{
    private FeatureCollection? _set;

    public bool IsReadOnly => false;

    public int Revision => _set?.Revision ?? connection.Revision;

    public object? this[Type key]
    {
        get
        {
            if (_set is null && (key == typeof(IConnectionHeartbeatFeature) || key == typeof(IConnectionLifetimeFeature)
                || key == typeof(IConnectionTransportFeature)))
            {
                return pass;
            }

            return _set is null ? connection[key] : _set[key];
        }

        set => Own()[key] = value;
    }

    public TFeature? Get<TFeature>() => (TFeature?)this[typeof(TFeature)];

    public void Set<TFeature>(TFeature? instance) => this[typeof(TFeature)] = instance;

    public IEnumerator<KeyValuePair<Type, object>> GetEnumerator() => ((IEnumerable<KeyValuePair<Type, object>>)Own()).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private FeatureCollection Own()
    {
        if (_set is null)
        {
            _set = new FeatureCollection(connection);
            _set.Set<IConnectionHeartbeatFeature>(pass);
            _set.Set<IConnectionLifetimeFeature>(pass);
            _set.Set<IConnectionTransportFeature>(pass);
        }

        return _set;
    }
}
