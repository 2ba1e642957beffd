using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using ProxTunnel.Certificates;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// <c>issuance-cpu [N]</c>: CPU time a cache miss costs the thread that asks (the handshake path), per leaf key mode,
/// from the thread's own CPU clock, so other load on the machine barely moves it (wall-clock benchmarks on a shared
/// machine do). The pool is filled before each batch, as it is between bursts; its refill runs on other threads.
/// </summary>
internal static class IssuanceCpu
{
    public const string Command = "issuance-cpu";

    public static int Run(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 500;
        var directory = Path.Combine(Path.GetTempPath(), "proxtunnel-issuance-cpu", Guid.NewGuid().ToString("N"));
        try
        {
            Console.WriteLine($"CPU µs per new-host issuance on the calling thread ({count} hosts per mode, after 100 unrecorded):");
            Console.WriteLine("| leaf key mode | p50 µs | mean µs | wall p50 µs |");
            Console.WriteLine("|---|---|---|---|");
            foreach (var mode in Enum.GetValues<LeafKeyMode>())
            {
                using var authority = new ProxyCertificateAuthority(new CertificateAuthorityOptions
                {
                    RootCertificatePath = Path.Combine(directory, "root.pem"),
                    CacheSize = 1_000_000,
                    LeafKeyMode = mode,
                    LeafKeyPoolSize = count + 100,
                });
                (authority.LeafKeys as LeafKeyPool)?.Fill();
                var cpu = new double[count];
                var wall = new double[count];
                for (var i = -100; i < count; i++)
                {
                    var host = $"h{i + 100}-{mode}.example.com";
                    var startCpu = ThreadCpuMicroseconds();
                    var startWall = Stopwatch.GetTimestamp();
                    authority.GetCertificateContext(host);
                    if (i >= 0)
                    {
                        cpu[i] = ThreadCpuMicroseconds() - startCpu;
                        wall[i] = Stopwatch.GetElapsedTime(startWall).TotalMicroseconds;
                    }
                }

                Array.Sort(cpu);
                Array.Sort(wall);
                Console.WriteLine($"| {mode} | {cpu[count / 2]:F0} | {cpu.Average():F0} | {wall[count / 2]:F0} |");
            }

            return 0;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static double ThreadCpuMicroseconds()
    {
        const int ClockThreadCpuTimeId = 3;
        return clock_gettime(ClockThreadCpuTimeId, out var time) == 0 ? time.Seconds * 1e6 + time.Nanoseconds / 1e3 : double.NaN;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", SetLastError = false)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
#pragma warning disable SA1300, IDE1006 // The libc name.
    private static extern int clock_gettime(int clockId, out TimeSpec time);
#pragma warning restore SA1300, IDE1006
}
