using ProxTunnel.Diagnostics;
using ProxTunnel.Resolvers;

namespace ProxTunnel.Rewriting;

/// <summary>What the prefix resolver decided for one request: a target, a demand for credentials, or a failure.</summary>
internal readonly record struct PrefixResolution(string? Target, string? ChallengeRealm)
{
    /// <summary>The resolver threw, or returned a target that cannot be a request target.</summary>
    public bool Failed => Target is null && ChallengeRealm is null;

    /// <summary>
    /// Runs the resolver on a filled-in <paramref name="context"/> (cleared afterwards), for HTTP/1.1 heads and HTTP/2
    /// streams alike: a throwing resolver is logged and reported as failed, and so is a target that is not printable
    /// origin-form ASCII, so nothing a resolver returns can break the request line.
    /// </summary>
    public static async ValueTask<PrefixResolution> ResolveAsync(RewriteSettings settings, ProxyRequestContext context, string connectionId,
        CancellationToken cancellationToken)
    {
        ProxyPrefixResult result;
        try
        {
            result = await settings.Resolver.ResolveAsync(context, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ProxyTunnelLog.ResolverFailed(settings.Logger, connectionId, ex);
            return default;
        }
        finally
        {
            context.Clear();
        }

        if (result.ChallengeRealm is { } realm)
        {
            return new PrefixResolution(null, realm);
        }

        var target = result.Target ?? (result.Prefix ?? "/") + context.AbsoluteUrl;
        return target.Length == 0 || target[0] != '/' || target.Any(c => c <= ' ' || c >= 0x7F || c == '#')
            ? default
            : new PrefixResolution(target, null);
    }
}
