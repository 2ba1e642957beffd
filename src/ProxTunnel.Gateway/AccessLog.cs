using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Unicode;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace ProxTunnel.Gateway;

/// <summary>
/// The access log: one line per request on stderr, written as the console logger would write it for category
/// <see cref="Category"/> (event 10 through a tunnel, 11 without), but without its per-line cost. The request path
/// only queues an <see cref="AccessLogEntry"/>; one background task formats the queued lines as UTF-8 into one buffer,
/// writes them (one write per batch of up to 4 KiB) once the queue is empty, then lets lines gather for
/// <see cref="GatherInterval"/> before it looks again, so lines show within about 10 ms. On when the category is enabled at Information (so
/// <c>--log-level</c> controls it as before). When stderr cannot keep up and the queue is full, lines are dropped,
/// never waited for, and a warning says how many.
/// </summary>
internal sealed class AccessLog : IAsyncDisposable
{
    public const string Category = "ProxTunnel.Gateway.Access";

    private const int Capacity = 8192;

    // Long enough that a busy gateway wakes the writer a hundred times a second rather than once per request.
    private static readonly TimeSpan GatherInterval = TimeSpan.FromMilliseconds(10);

    // A batch is written once it reaches this size: a pipe write up to PIPE_BUF (4096 on Linux) is atomic, so a batch
    // never interleaves with the console logger's own lines on the same stderr.
    private const int BatchBytes = 4096;

    // Timestamp, prefix, numbers, client address and separators of a line: an upper bound for all but its strings.
    private const int FixedLineBytes = 384;

    private readonly Channel<AccessLogEntry> _entries = Channel.CreateBounded<AccessLogEntry>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly Stream _output;
    private readonly ILogger _logger;
    private readonly byte[] _tunneledPrefix;
    private readonly byte[] _directPrefix;
    private readonly string? _timestampFormat;
    private readonly bool _utcTimestamp;
    private readonly bool _timestampHasFractions;
    private readonly Task _pump;
    private long _dropped;

    // The timestamp of the last line, reused while the second does not change (the format has no fractions).
    private readonly byte[] _stamp = new byte[64];
    private int _stampLength;
    private long _stampSecond = -1;

    private AccessLog(Stream output, ILogger logger, SimpleConsoleFormatterOptions options)
    {
        _output = output;
        _logger = logger;
        _timestampFormat = options.TimestampFormat;
        _utcTimestamp = options.UseUtcTimestamp;
        _timestampHasFractions = _timestampFormat?.Contains('f', StringComparison.OrdinalIgnoreCase) == true;
        var colors = options.ColorBehavior == LoggerColorBehavior.Enabled || (options.ColorBehavior == LoggerColorBehavior.Default && ConsoleEmitsColors());

        // What the simple console formatter writes between the timestamp and the message, "info" coloured as it does.
        var level = colors ? "\e[40m\e[32minfo\e[39m\e[22m\e[49m" : "info";
        _tunneledPrefix = Encoding.UTF8.GetBytes($"{level}: {Category}[10] ");
        _directPrefix = Encoding.UTF8.GetBytes($"{level}: {Category}[11] ");
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>Whether requests are logged now (the category's level can change with configuration).</summary>
    public bool IsEnabled => _logger.IsEnabled(LogLevel.Information);

    /// <summary>The access log on the process's stderr, formatted with the app's simple-console options.</summary>
    public static AccessLog Create(IServiceProvider services) => new(
        Console.OpenStandardError(),
        services.GetRequiredService<ILoggerFactory>().CreateLogger(Category),
        services.GetRequiredService<IOptions<SimpleConsoleFormatterOptions>>().Value);

    /// <summary>Queues the line of a request that ended at <paramref name="ended"/>; never waits.</summary>
    public void Add(HttpContext context, long bytes, long started, long ended)
    {
        var connection = context.Connection;
        var request = context.Request;
        var entry = new AccessLogEntry(
            request.Method,
            context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? request.Path.Value ?? "/",
            request.Scheme,
            request.Host.Value,
            context.Response.StatusCode,
            bytes,
            started,
            ended,
            connection.RemoteIpAddress,
            connection.RemotePort,
            context.Features.Get<IProxyTunnelFeature>());
        if (!_entries.Writer.TryWrite(entry))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>Writes every queued line, then stops (after the server stopped, so every request it let finish is in).</summary>
    public async ValueTask DisposeAsync()
    {
        _entries.Writer.TryComplete();
        await _pump.ConfigureAwait(false);
        await _output.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>What the console logger decides for <see cref="LoggerColorBehavior.Default"/>: colours when stdout is a
    /// terminal and NO_COLOR is unset, or when DOTNET_SYSTEM_CONSOLE_ALLOW_ANSI_COLOR_REDIRECTION allows them.</summary>
    private static bool ConsoleEmitsColors()
    {
        if (!Console.IsOutputRedirected)
        {
            return Environment.GetEnvironmentVariable("NO_COLOR") is null;
        }

        var allow = Environment.GetEnvironmentVariable("DOTNET_SYSTEM_CONSOLE_ALLOW_ANSI_COLOR_REDIRECTION");
        return allow is "1" || string.Equals(allow, "true", StringComparison.OrdinalIgnoreCase);
    }

    private async Task PumpAsync()
    {
        var batch = new ArrayBufferWriter<byte>(2 * BatchBytes);
        var reader = _entries.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                do
                {
                    await WriteQueuedAsync(batch).ConfigureAwait(false);

                    // Let lines gather before looking again: waking this task for every request (a thread-pool hand-off
                    // each) would cost more than the line itself; this way a busy gateway pays one wake-up per interval.
                    await Task.Delay(GatherInterval).ConfigureAwait(false);
                }
                while (reader.TryPeek(out _));
            }
        }
        catch (IOException)
        {
            // stderr is gone (closed pipe): nothing more can be shown; requests keep being served and lines are dropped.
        }

        ReportDropped();
    }

    /// <summary>Formats every queued line and writes them, in writes of at most about <see cref="BatchBytes"/>.</summary>
    private async ValueTask WriteQueuedAsync(ArrayBufferWriter<byte> batch)
    {
        // One clock reading per batch: each line's time is this minus how long ago its request ended.
        var now = Stopwatch.GetTimestamp();
        var wallNow = _utcTimestamp ? DateTimeOffset.UtcNow : DateTimeOffset.Now;
        while (_entries.Reader.TryRead(out var entry))
        {
            var bound = UpperBound(entry);
            if (batch.WrittenCount > 0 && batch.WrittenCount + bound > BatchBytes)
            {
                await WriteAsync(batch).ConfigureAwait(false);
            }

            var span = batch.GetSpan(bound);
            batch.Advance(Format(span, entry, wallNow - Stopwatch.GetElapsedTime(entry.Ended, now)));
        }

        await WriteAsync(batch).ConfigureAwait(false);
        ReportDropped();
    }

    private async ValueTask WriteAsync(ArrayBufferWriter<byte> batch)
    {
        if (batch.WrittenCount > 0)
        {
            await _output.WriteAsync(batch.WrittenMemory).ConfigureAwait(false);
            batch.ResetWrittenCount();
        }
    }

    private void ReportDropped()
    {
        var dropped = Interlocked.Exchange(ref _dropped, 0);
        if (dropped > 0)
        {
            GatewayLog.AccessLinesDropped(_logger, dropped);
        }
    }

    private static int UpperBound(in AccessLogEntry entry)
    {
        var chars = entry.Method.Length + entry.Target.Length + entry.Scheme.Length + (entry.Host?.Length ?? 0) + (entry.Tunnel?.ConnectHost.Length ?? 0);
        return FixedLineBytes + (3 * chars);
    }

    /// <summary>One line (with its newline) into <paramref name="span"/>, which holds <see cref="UpperBound"/> bytes; returns its length.</summary>
    private int Format(Span<byte> span, in AccessLogEntry entry, DateTimeOffset time)
    {
        var length = WriteTimestamp(span, time);
        var tunnel = entry.Tunnel;
        var prefix = tunnel is null ? _directPrefix : _tunneledPrefix;
        prefix.CopyTo(span[length..]);
        length += prefix.Length;

        var line = span[length..];
        var target = entry.Target.AsSpan();
        var urlStart = ExchangeRecording.AbsoluteUrlStart(target);
        bool written;
        int count;
        if (urlStart >= 0)
        {
            written = Utf8.TryWrite(line, CultureInfo.InvariantCulture, $"{entry.Method} {target[urlStart..]} ", out count);
        }
        else
        {
            // Unprefixed (an alias, or the listener itself): the URL rebuilt from scheme, Host and target.
            var slash = target.StartsWith('/') ? "" : "/";
            written = Utf8.TryWrite(line, CultureInfo.InvariantCulture, $"{entry.Method} {entry.Scheme}://{entry.Host}{slash}{target} ", out count);
        }

        line = line[count..];
        length += count;
        var milliseconds = Stopwatch.GetElapsedTime(entry.Started, entry.Ended).TotalMilliseconds;
        written &= tunnel is null
            ? Utf8.TryWrite(line, CultureInfo.InvariantCulture,
                $"{entry.Status} {entry.Bytes} B {milliseconds:0.0} ms client {entry.Client}:{entry.ClientPort} no tunnel\n", out count)
            : Utf8.TryWrite(line, CultureInfo.InvariantCulture,
                $"{entry.Status} {entry.Bytes} B {milliseconds:0.0} ms client {entry.Client}:{entry.ClientPort} tunnel {tunnel.ConnectHost}:{tunnel.ConnectPort}\n", out count);
        Debug.Assert(written, "UpperBound holds every line");
        return length + count;
    }

    private int WriteTimestamp(Span<byte> span, DateTimeOffset time)
    {
        if (_timestampFormat is null)
        {
            return 0;
        }

        var second = time.Ticks / TimeSpan.TicksPerSecond;
        if (second != _stampSecond || _timestampHasFractions)
        {
            // The console logger formats its timestamp with the current culture; so does this.
            _stampLength = time.TryFormat(_stamp, out var written, _timestampFormat, CultureInfo.CurrentCulture) ? written : 0;
            _stampSecond = second;
        }

        _stamp.AsSpan(0, _stampLength).CopyTo(span);
        return _stampLength;
    }
}
