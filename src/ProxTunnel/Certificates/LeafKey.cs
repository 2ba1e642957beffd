using System.Security.Cryptography;

namespace ProxTunnel.Certificates;

/// <summary>A leaf key handed out by an <see cref="ILeafKeySource"/>. Disposing releases it unless it is the process-wide
/// key, which the source owns.</summary>
internal readonly record struct LeafKey(AsymmetricAlgorithm Algorithm, bool IsShared) : IDisposable
{
    public void Dispose()
    {
        if (!IsShared)
        {
            Algorithm.Dispose();
        }
    }
}
