using System.Diagnostics;

namespace ProxTunnel.Gateway;

/// <summary>When an exchange began (wall clock, for HAR's <c>startedDateTime</c>) and its phases (monotonic timestamps).</summary>
internal readonly record struct HarTimings(DateTimeOffset StartedAt, long Started, long ResponseStarted, long Ended)
{
    /// <summary>From the request reaching the app to the first byte of the response (HAR <c>wait</c>).</summary>
    public double WaitMilliseconds => Stopwatch.GetElapsedTime(Started, ResponseStarted == 0 ? Ended : ResponseStarted).TotalMilliseconds;

    /// <summary>From the first byte of the response to its end (HAR <c>receive</c>).</summary>
    public double ReceiveMilliseconds => ResponseStarted == 0 ? 0 : Stopwatch.GetElapsedTime(ResponseStarted, Ended).TotalMilliseconds;

    public double TotalMilliseconds => Stopwatch.GetElapsedTime(Started, Ended).TotalMilliseconds;
}
