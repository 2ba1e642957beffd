using System.Diagnostics;
using Microsoft.AspNetCore.Http.Features;

namespace ProxTunnel.Gateway;

/// <summary>
/// Middleware in front of the app (inspector or upstream): the access-log line of every request and, with
/// <c>--har</c>, its HAR entry.
/// </summary>
internal static class ExchangeRecording
{
    public static void Use(WebApplication app, HarWriter? har)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ProxTunnel.Gateway.Access");
        if (har is not null)
        {
            har.Logger = logger;
        }

        app.Use((context, next) =>
            har is null && !logger.IsEnabled(LogLevel.Information) ? next(context) : RecordAsync(context, next, logger, har));
    }

    /// <summary>The absolute URL the client asked for: what follows the prefix, or, for unprefixed hosts (aliases,
    /// requests to the listener itself), the URL rebuilt from scheme, Host and target.</summary>
    public static string AbsoluteUrl(HttpContext context)
    {
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";
        for (var i = target.IndexOf("/http", StringComparison.Ordinal); i >= 0; i = target.IndexOf("/http", i + 1, StringComparison.Ordinal))
        {
            var rest = target.AsSpan(i + 1);
            if (rest.StartsWith("http://", StringComparison.Ordinal) || rest.StartsWith("https://", StringComparison.Ordinal))
            {
                return target[(i + 1)..];
            }
        }

        return string.Concat(context.Request.Scheme, "://", context.Request.Host.Value, target.StartsWith('/') ? target : "/" + target);
    }

    private static async Task RecordAsync(HttpContext context, RequestDelegate next, ILogger logger, HarWriter? har)
    {
        var started = Stopwatch.GetTimestamp();
        var startedAt = har is null ? default : DateTimeOffset.UtcNow;
        var original = context.Features.Get<IHttpResponseBodyFeature>()!;
        using var responseCapture = har is null ? null : new BodyCapture();
        using var requestCapture = har is null ? null : new BodyCapture();
        var response = new RecordingResponseBody(original, responseCapture);
        var requestBody = context.Request.Body;
        context.Features.Set<IHttpResponseBodyFeature>(response);
        if (requestCapture is not null)
        {
            context.Request.Body = new CapturingRequestBody(requestBody, requestCapture);
        }

        try
        {
            await next(context).ConfigureAwait(false);
            await response.FlushWriterAsync().ConfigureAwait(false);
        }
        finally
        {
            context.Features.Set(original);
            context.Request.Body = requestBody;
            var ended = Stopwatch.GetTimestamp();
            if (logger.IsEnabled(LogLevel.Information))
            {
                Log(context, logger, response.BytesWritten, Stopwatch.GetElapsedTime(started, ended).TotalMilliseconds);
            }

            if (har is not null)
            {
                await har.AddAsync(context, new HarTimings(startedAt, started, response.StartedTimestamp, ended), requestCapture!, response)
                    .ConfigureAwait(false);
            }
        }
    }

    private static void Log(HttpContext context, ILogger logger, long bytes, double milliseconds)
    {
        var connection = context.Connection;
        var url = AbsoluteUrl(context);
        var tunnel = context.Features.Get<IProxyTunnelFeature>();
        if (tunnel is null)
        {
            GatewayLog.Request(logger, context.Request.Method, url, context.Response.StatusCode, bytes, milliseconds,
                connection.RemoteIpAddress, connection.RemotePort);
        }
        else
        {
            GatewayLog.TunneledRequest(logger, context.Request.Method, url, context.Response.StatusCode, bytes, milliseconds,
                connection.RemoteIpAddress, connection.RemotePort, tunnel.ConnectHost, tunnel.ConnectPort);
        }
    }
}
