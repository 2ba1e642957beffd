using System.Diagnostics;
using Microsoft.AspNetCore.Http.Features;

namespace ProxTunnel.Gateway;

/// <summary>
/// Middleware in front of the app (inspector or upstream): the access-log line of every request and, with
/// <c>--har</c>, its HAR entry.
/// </summary>
internal static class ExchangeRecording
{
    public static void Use(WebApplication app, AccessLog accessLog, HarWriter? har)
    {
        if (har is not null)
        {
            har.Logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(AccessLog.Category);
        }

        app.Use((context, next) =>
            har is null && !accessLog.IsEnabled ? next(context) : RecordAsync(context, next, accessLog, har));
    }

    /// <summary>The absolute URL the client asked for: what follows the prefix, or, for unprefixed hosts (aliases,
    /// requests to the listener itself), the URL rebuilt from scheme, Host and target.</summary>
    public static string AbsoluteUrl(HttpContext context)
    {
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";
        var start = AbsoluteUrlStart(target);
        return start >= 0
            ? target[start..]
            : string.Concat(context.Request.Scheme, "://", context.Request.Host.Value, target.StartsWith('/') ? target : "/" + target);
    }

    /// <summary>Where the absolute URL starts in a request target (after the prefix), or -1 when it holds none.</summary>
    public static int AbsoluteUrlStart(ReadOnlySpan<char> target)
    {
        var i = target.IndexOf("/http", StringComparison.Ordinal);
        while (i >= 0)
        {
            var rest = target[(i + 1)..];
            if (rest.StartsWith("http://", StringComparison.Ordinal) || rest.StartsWith("https://", StringComparison.Ordinal))
            {
                return i + 1;
            }

            var next = rest.IndexOf("/http", StringComparison.Ordinal);
            i = next < 0 ? -1 : i + 1 + next;
        }

        return -1;
    }

    private static async Task RecordAsync(HttpContext context, RequestDelegate next, AccessLog accessLog, HarWriter? har)
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
        }
        finally
        {
            context.Features.Set(original);
            if (requestCapture is not null)
            {
                context.Request.Body = requestBody;
            }
            var ended = Stopwatch.GetTimestamp();
            if (accessLog.IsEnabled)
            {
                accessLog.Add(context, response.BytesWritten, started, ended);
            }

            if (har is not null)
            {
                await har.AddAsync(context, new HarTimings(startedAt, started, response.StartedTimestamp, ended), requestCapture!, response)
                    .ConfigureAwait(false);
            }
        }
    }
}
