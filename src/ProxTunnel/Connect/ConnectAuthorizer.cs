using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using ProxTunnel.Diagnostics;
using ProxTunnel.Resolvers;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Connect;

/// <summary>
/// Decides whether a CONNECT may open a tunnel (SPEC §3.6: the resolver checks credentials on the CONNECT request), and
/// answers the refusals itself: <c>407</c> with the resolver's realm, <c>500</c> when the resolver fails.
/// </summary>
internal sealed class ConnectAuthorizer(RewriteSettings settings, ILogger logger)
{
    /// <summary>True when the tunnel may open; otherwise the refusal has been written to <paramref name="output"/>.</summary>
    public async ValueTask<bool> AuthorizeAsync(ConnectRequest connect, PipeWriter output, string connectionId, CancellationToken cancellationToken)
    {
        if (settings.FixedPrefix is not null)
        {
            // A fixed prefix needs no credentials.
            return true;
        }

        var request = new ProxyRequestContext();
        request.Set(connect.Head, connect.Parsed, "https", connect.Host, connect.Port, "", isTunnel: true, connect.Headers);
        ProxyPrefixResult decision;
        try
        {
            decision = await settings.Resolver.ResolveAsync(request, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ProxyTunnelLog.ResolverFailed(logger, connectionId, ex);
            await ProxyResponses.RefuseAsync(output, RejectReason.ResolverFailed, null, logger, settings.Metrics, connectionId);
            return false;
        }

        if (decision.ChallengeRealm is { } realm)
        {
            await ProxyResponses.RefuseAsync(output, RejectReason.ProxyAuthenticationRequired, realm, logger, settings.Metrics, connectionId);
            return false;
        }

        return true;
    }
}
