using System.Collections.Concurrent;

namespace ProxTunnel.Tests.Hardening;

/// <summary>
/// Shared checks after every hardening test: no unobserved task exception, and the active-tunnel metric back at the
/// value it had before the test (observed with a MeterListener; the fixtures are NonParallelizable so the deltas are ours).
/// </summary>
public abstract class HardeningFixture
{
    private readonly ConcurrentQueue<Exception> _unobserved = new();
    private EventHandler<UnobservedTaskExceptionEventArgs>? _handler;

    internal TunnelMetricProbe Tunnels { get; private set; } = null!;

    [SetUp]
    public void StartWatching()
    {
        // Exceptions left over from earlier tests must not be blamed on this one.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        _handler = (_, e) => _unobserved.Enqueue(e.Exception);
        TaskScheduler.UnobservedTaskException += _handler;
        Tunnels = new TunnelMetricProbe();
    }

    [TearDown]
    public async Task NoLeaks()
    {
        try
        {
            if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Passed)
            {
                Assert.That(await Tunnels.WaitForAsync(0, TimeSpan.FromSeconds(15)), Is.True,
                    $"proxtunnel.tunnels.active did not return to its baseline (still {Tunnels.Active} above it)");
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                Assert.That(_unobserved, Is.Empty, "unobserved task exceptions: " + string.Join("\n", _unobserved));
            }
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= _handler;
            Tunnels.Dispose();
        }
    }
}
