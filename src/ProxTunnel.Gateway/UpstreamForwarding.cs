using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms;

namespace ProxTunnel.Gateway;

/// <summary><c>--upstream URL</c>: every request that reaches the app goes to the backend through YARP's forwarder.</summary>
internal static class UpstreamForwarding
{
    private static readonly UriCreationOptions Verbatim = new() { DangerousDisablePathAndQueryCanonicalization = true };

    public static void Map(WebApplication app, Uri upstream)
    {
        var destinationPrefix = upstream.GetLeftPart(UriPartial.Path).TrimEnd('/');
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ProxTunnel.Gateway.Upstream");
        GatewayLog.ForwardingTo(logger, destinationPrefix);
        app.Use((context, next) => ExplainFailureAsync(context, next, destinationPrefix, logger));

        // WebSocket upgrades are forwarded by YARP itself; the app must not accept them first (no UseWebSockets here).
        app.MapForwarder("/{**catch-all}", destinationPrefix, ForwarderRequestConfig.Empty, transforms =>
        {
            // The backend sees the Host the client asked for (example.com), not the backend's own name.
            transforms.AddOriginalHost(useOriginal: true);
            transforms.AddRequestTransform(SetVerbatimTarget);
        });
    }

    /// <summary>YARP answers a failed upstream with an empty 502 (504 on timeout); say in one plain-text line what went
    /// wrong. Other errors (the client went away, a bad request body) keep YARP's answer.</summary>
    private static async Task ExplainFailureAsync(HttpContext context, RequestDelegate next, string destination, ILogger logger)
    {
        await next(context).ConfigureAwait(false);
        if (context.GetForwarderErrorFeature() is not { } failure || context.Response.HasStarted
            || context.Response.StatusCode is not (StatusCodes.Status502BadGateway or StatusCodes.Status504GatewayTimeout))
        {
            return;
        }

        var reason = (failure.Exception?.GetBaseException().Message ?? failure.Error.ToString()).ReplaceLineEndings(" ");
        GatewayLog.UpstreamFailed(logger, ExchangeRecording.AbsoluteUrl(context), failure.Error, reason);
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync($"proxtunnel: upstream {destination} failed ({failure.Error}): {reason}\n", context.RequestAborted)
            .ConfigureAwait(false);
    }

    /// <summary>Sends the rewritten target exactly as received: no decoding, re-encoding or dot-segment removal.</summary>
    private static ValueTask SetVerbatimTarget(RequestTransformContext context)
    {
        var rawTarget = context.HttpContext.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (rawTarget is { Length: > 0 } && rawTarget[0] == '/'
            && Uri.TryCreate(context.DestinationPrefix.TrimEnd('/') + rawTarget, in Verbatim, out var uri))
        {
            context.ProxyRequest.RequestUri = uri;
        }

        return ValueTask.CompletedTask;
    }
}
