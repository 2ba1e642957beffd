using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ProxTunnel.Tests.Hardening;

/// <summary>Slow, stalled, idle and numerous clients cost bounded time and memory.</summary>
[NonParallelizable]
public sealed class ResourceBoundsTests : HardeningFixture
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Test]
    public async Task TlsHandshake_ClosedWithinTimeout_WhenClientSendsOnlyTheRecordByte()
    {
        await using var host = await HardeningHost.StartAsync(t => t.TlsHandshakeTimeout = TimeSpan.FromMilliseconds(300));
        using var cts = new CancellationTokenSource(Bound);
        await using var c = await HardeningClient.OpenAsync(host.Port, cts.Token);
        Assert.That((await c.ConnectAsync("example.com:443", cts.Token))?.Status, Is.EqualTo(200));
        var stopwatch = Stopwatch.StartNew();
        await c.SendAsync(new byte[] { 0x16 }, cts.Token);
        var rest = await c.ReadUntilClosedAsync(cts.Token);
        Assert.That(rest, Is.Empty);
        Assert.That(stopwatch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "closed by the 300 ms handshake timeout, not by something slower");
        TestContext.Out.WriteLine($"stalled handshake closed after {stopwatch.ElapsedMilliseconds} ms");
    }

    [Test]
    public async Task SlowHead_Gets408AndClose_WhenHalfAHeadOnPlainProxyConnection()
    {
        await using var host = await HardeningHost.StartAsync(t => t.RequestHeadersTimeout = TimeSpan.FromMilliseconds(300));
        using var cts = new CancellationTokenSource(Bound);
        await using var c = await HardeningClient.OpenAsync(host.Port, cts.Token);
        await c.SendAsync("GET http://example.com/slow HTTP/1.1\r\nHost: exa", cts.Token);
        var response = await c.ReadResponseAsync(cts.Token);
        Assert.That(response?.Status, Is.EqualTo(408));
        Assert.That(await c.ReadUntilClosedAsync(cts.Token), Is.Empty);
        Assert.That(host.SeenTargets, Is.Empty);
    }

    [Test]
    public async Task SlowHead_Gets408AndClose_WhenHalfAHeadInsideTunnel()
    {
        await using var host = await HardeningHost.StartAsync(t => t.RequestHeadersTimeout = TimeSpan.FromMilliseconds(300));
        using var cts = new CancellationTokenSource(Bound);
        await using var c = await HardeningClient.OpenAsync(host.Port, cts.Token);
        Assert.That((await c.ConnectAsync("example.com:80", cts.Token))?.Status, Is.EqualTo(200));
        await c.SendAsync("GET /slow HTTP/1.1\r\nHost: exa", cts.Token);
        var response = await c.ReadResponseAsync(cts.Token);
        Assert.That(response?.Status, Is.EqualTo(408));
        Assert.That(await c.ReadUntilClosedAsync(cts.Token), Is.Empty);
        Assert.That(host.SeenTargets, Is.Empty);
    }

    [Test]
    public async Task SlowConnectHead_ClosedWithinTimeout_WhenHalfACONNECTIsSent()
    {
        await using var host = await HardeningHost.StartAsync(t => t.RequestHeadersTimeout = TimeSpan.FromMilliseconds(300));
        using var cts = new CancellationTokenSource(Bound);
        await using var c = await HardeningClient.OpenAsync(host.Port, cts.Token);
        await c.SendAsync("CONNECT example.com:443 HTTP/1.1\r\nHo", cts.Token);
        var rest = await c.ReadUntilClosedAsync(cts.Token);
        // The CONNECT head goes through the same parser as every head: a slow one gets 408 like the others.
        Assert.That(System.Text.Encoding.ASCII.GetString(rest), Does.StartWith("HTTP/1.1 408 "));
    }

    [Test]
    public async Task ThirdTunnel_Gets503_WhenMaxConcurrentTunnelsIsTwo_AndClosingOneFreesASlot()
    {
        await using var host = await HardeningHost.StartAsync(t => t.MaxConcurrentTunnels = 2);
        using var cts = new CancellationTokenSource(Bound);
        var first = await HardeningClient.OpenAsync(host.Port, cts.Token);
        await using var second = await HardeningClient.OpenAsync(host.Port, cts.Token);
        Assert.That((await first.ConnectAsync("example.com:80", cts.Token))?.Status, Is.EqualTo(200));
        Assert.That((await second.ConnectAsync("example.com:80", cts.Token))?.Status, Is.EqualTo(200));
        Assert.That(await Tunnels.WaitForAsync(2, Bound), Is.True);

        await using (var third = await HardeningClient.OpenAsync(host.Port, cts.Token))
        {
            var refused = await third.ConnectAsync("example.com:80", cts.Token);
            Assert.That(refused?.Status, Is.EqualTo(503));
        }

        await first.DisposeAsync();
        Assert.That(await Tunnels.WaitForAsync(1, Bound), Is.True, "closing a tunnel gives its slot back");
        await using var fourth = await HardeningClient.OpenAsync(host.Port, cts.Token);
        Assert.That((await fourth.ConnectAsync("example.com:80", cts.Token))?.Status, Is.EqualTo(200));
        await fourth.SendAsync("GET /after HTTP/1.1\r\nHost: example.com\r\n\r\n", cts.Token);
        Assert.That((await fourth.ReadResponseAsync(cts.Token))?.Status, Is.EqualTo(200));
    }

    [Test]
    public async Task IdleTunnel_ClosedByKestrelKeepAliveTimeout_WhenNothingFollowsAResponse()
    {
        await using var host = await HardeningHost.StartAsync(kestrel: k => k.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(1));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await using var c = await HardeningClient.OpenAsync(host.Port, cts.Token);
        Assert.That((await c.ConnectAsync("example.com:80", cts.Token))?.Status, Is.EqualTo(200));
        await c.SendAsync("GET /idle HTTP/1.1\r\nHost: example.com\r\n\r\n", cts.Token);
        Assert.That((await c.ReadResponseAsync(cts.Token))?.Status, Is.EqualTo(200));
        var stopwatch = Stopwatch.StartNew();
        Assert.That(await c.ReadUntilClosedAsync(cts.Token), Is.Empty);
        TestContext.Out.WriteLine($"idle tunnel closed {stopwatch.ElapsedMilliseconds} ms after its last response (KeepAliveTimeout 1 s)");
        Assert.That(await Tunnels.WaitForAsync(0, Bound), Is.True);
    }

    [Test]
    public async Task IdleTlsTunnel_ClosedByKestrelKeepAliveTimeout_WhenNothingFollowsAResponse()
    {
        await using var host = await HardeningHost.StartAsync(kestrel: k => k.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(1));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await using var c = await HardeningClient.OpenAsync(host.Port, cts.Token);
        Assert.That((await c.ConnectAsync("example.com:443", cts.Token))?.Status, Is.EqualTo(200));
        await c.StartTlsAsync("example.com", host.Authority.RootCertificate, cts.Token);
        await c.SendAsync("GET /idle HTTP/1.1\r\nHost: example.com\r\n\r\n", cts.Token);
        Assert.That((await c.ReadResponseAsync(cts.Token))?.Status, Is.EqualTo(200));
        Assert.That(await c.ReadUntilClosedAsync(cts.Token), Is.Empty);
        Assert.That(await Tunnels.WaitForAsync(0, Bound), Is.True);
    }

    private const int TunnelCount = 10_000;

    /// <summary>The client side in a child process when this process may not hold both ends (2 descriptors per tunnel).</summary>
    private const string PythonClient = """
import asyncio, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
req = b"CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\nGET /idle HTTP/1.1\r\nHost: example.com\r\n\r\n"
held = []
async def one(sem):
    async with sem:
        r, w = await asyncio.open_connection('127.0.0.1', port)
        w.write(req)
        await w.drain()
        data = b''
        for _ in range(10000):
            if data.startswith(b'HTTP/1.1 200') and b'\r\n\r\nHTTP/1.1 200' in data and data.endswith(b'0\r\n\r\n'):
                break
            chunk = await r.read(65536)
            if not chunk:
                raise Exception('closed: %r' % data)
            data += chunk
        held.append(w)
async def main():
    sem = asyncio.Semaphore(64)
    await asyncio.gather(*(one(sem) for _ in range(n)))
    print('ready', flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
""";

    [Test]
    [CancelAfter(120_000)]
    public async Task TenThousandIdleTunnels_AreHeld_AndServerStillAnswers()
    {
        var limit = RaiseFileLimit(2 * TunnelCount + 4_000);
        var inProcess = limit >= 2 * TunnelCount + 4_000;
        TestContext.Out.WriteLine($"RLIMIT_NOFILE soft limit {limit}: clients {(inProcess ? "in this process" : "in a python3 child process (the hard limit is too low for both ends here)")}");
        await using var host = await HardeningHost.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var rssBefore = Rss();
        var stopwatch = Stopwatch.StartNew();
        var clients = new HardeningClient[inProcess ? TunnelCount : 0];
        Process? child = null;
        try
        {
            if (inProcess)
            {
                var request = System.Text.Encoding.ASCII.GetBytes("CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\nGET /idle HTTP/1.1\r\nHost: example.com\r\n\r\n");
                await Parallel.ForEachAsync(Enumerable.Range(0, TunnelCount), new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = cts.Token }, async (i, token) =>
                {
                    var c = await HardeningClient.OpenAsync(host.Port, token);
                    clients[i] = c;
                    await c.SendAsync(request, token);
                    var established = await c.ReadResponseAsync(token, expectBody: false);
                    var answer = await c.ReadResponseAsync(token);
                    if (established?.Status != 200 || answer?.Status != 200)
                    {
                        throw new InvalidOperationException($"tunnel {i}: CONNECT {established?.Status}, GET {answer?.Status}");
                    }
                });
            }
            else
            {
                child = StartPythonClients(host.Port);
                var ready = await child.StandardOutput.ReadLineAsync(cts.Token);
                if (ready != "ready")
                {
                    Assert.Fail("the client process failed: " + await child.StandardError.ReadToEndAsync(cts.Token));
                }
            }

            var opened = stopwatch.Elapsed;
            Assert.That(Tunnels.Active, Is.EqualTo(TunnelCount));
            var rssAfter = Rss();

            // The server still answers a newcomer while holding them all.
            await using (var c = await HardeningClient.OpenAsync(host.Port, cts.Token))
            {
                await c.SendAsync("GET http://example.com/newcomer HTTP/1.1\r\nHost: example.com\r\n\r\n", cts.Token);
                var response = await c.ReadResponseAsync(cts.Token);
                Assert.That(response?.Status, Is.EqualTo(200));
                Assert.That(response!.Text, Does.Contain("/p/http://example.com/newcomer"));
            }

            TestContext.Out.WriteLine(
                $"{TunnelCount} idle plain tunnels (CONNECT + one GET each) opened in {opened.TotalSeconds:F1} s; RSS {rssBefore / 1048576.0:F0} MiB -> {rssAfter / 1048576.0:F0} MiB " +
                $"= {(rssAfter - rssBefore) / (double)TunnelCount / 1024:F1} KiB per tunnel" +
                (inProcess ? " (client and server share this process: the figure covers both ends of each tunnel, an upper bound for the server's share)" : " (server only: the clients ran in a child process)"));
        }
        finally
        {
            foreach (var c in clients)
            {
                c?.Reset();
            }

            if (child is not null)
            {
                child.StandardInput.Close();
                if (!child.WaitForExit(20_000))
                {
                    child.Kill();
                }

                child.Dispose();
            }
        }

        Assert.That(await Tunnels.WaitForAsync(0, TimeSpan.FromSeconds(60)), Is.True, "all tunnels closed after the clients went");
    }

    private static Process StartPythonClients(int port)
    {
        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(PythonClient);
        start.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.ArgumentList.Add(TunnelCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            return Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            Assert.Inconclusive($"RLIMIT_NOFILE is too low to hold both ends of {TunnelCount} tunnels in this process, and python3 is unavailable for the client side: {ex.Message}");
            throw;
        }
    }

    private static bool TestContextLog(string message)
    {
        TestContext.Out.WriteLine(message);
        return false;
    }

    private static long Rss()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line[6..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    private const int RlimitNofile = 7;

#pragma warning disable SYSLIB1054, CA5392 // LibraryImport needs unsafe code, which this project does not enable.
    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, out RLimit limit);

    [DllImport("libc", SetLastError = true)]
    private static extern int setrlimit(int resource, in RLimit limit);
#pragma warning restore SYSLIB1054, CA5392

    /// <summary>Raises RLIMIT_NOFILE to at least <paramref name="wanted"/> when it can (root may raise the hard limit too); returns the soft limit.</summary>
    private static ulong RaiseFileLimit(ulong wanted)
    {
        if (!OperatingSystem.IsLinux() || getrlimit(RlimitNofile, out var limit) != 0)
        {
            return wanted;
        }

        if (limit.Current >= wanted)
        {
            return limit.Current;
        }

        var raised = new RLimit { Current = wanted, Maximum = Math.Max(limit.Maximum, wanted) };
        if (setrlimit(RlimitNofile, raised) != 0)
        {
            raised = new RLimit { Current = limit.Maximum, Maximum = limit.Maximum };
            _ = setrlimit(RlimitNofile, raised) == 0 || TestContextLog("setrlimit failed");
        }

        return getrlimit(RlimitNofile, out limit) == 0 ? limit.Current : wanted;
    }
}
