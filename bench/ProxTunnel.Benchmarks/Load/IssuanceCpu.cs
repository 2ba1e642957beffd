using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
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

            PrintParts(directory, count);
            return 0;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// The steps an issuance is made of once key generation is off the path, each on the thread's CPU clock: the leaf
    /// as <see cref="CertificateRequest"/> makes it (encode, sign, then parse its own DER back) and as the CA makes it
    /// where OpenSSL 3 is .NET's library (<see cref="OpenSslLeafSigner"/>: built and signed in OpenSSL, nothing parsed),
    /// then the TLS context, which builds the leaf's chain: against a certificate that issued nothing (what the CA passes:
    /// no issuer found, no signature checked), against our root (two ECDSA verifications), and by default against the
    /// system store (every system root copied into a fresh OpenSSL store).
    /// </summary>
    private static void PrintParts(string directory, int count)
    {
        var options = new CertificateAuthorityOptions { RootCertificatePath = Path.Combine(directory, "parts-root.pem") };
        using var root = RootAuthority.LoadOrCreate(options.RootCertificatePath, options, DateTimeOffset.UtcNow);
        using var openSsl = OpenSslLeafSigner.TryCreate(root);
        var managed = new HostCertificateFactory(root, options.LeafLifetime, openSsl: null);
        var native = new HostCertificateFactory(root, options.LeafLifetime, openSsl);
        var trust = SslCertificateTrust.CreateForX509Collection(new X509Certificate2Collection(root.Certificate), sendTrustInHandshake: false);
        string[] names = ["issue the leaf with CertificateRequest (encode, sign, parse back, attach the key)",
            openSsl is null ? "issue the leaf in OpenSSL: not available here (CertificateRequest again)" : "issue the leaf in OpenSSL (what the CA does here)",
            "SslStreamCertificateContext.Create, trust = a certificate that issued nothing (what the CA does)",
            "SslStreamCertificateContext.Create, trust = the root", "SslStreamCertificateContext.Create, default (system trust)",
            "  X509Chain.Build, system trust", "  X509Chain.Build, one custom root"];
        var parts = names.Select(_ => new double[count]).ToArray();
        for (var i = -100; i < count; i++)
        {
            // As the pool makes it: the key with its public half encoded.
            using var leafKey = LeafKey.Create(CertificateKeyAlgorithm.EcdsaP256);
            var key = leafKey.Algorithm;
            var target = HostNames.Resolve($"p{i + 100}.example.com", wildcard: false);
            var now = DateTimeOffset.UtcNow;
            var t0 = ThreadCpuMicroseconds();
            using var viaRequest = managed.Issue(target, now, key);
            var t1 = ThreadCpuMicroseconds();
            using var leaf = native.Issue(target, now, leafKey, CertificateKeys.NewSerialNumber());
            var t2 = ThreadCpuMicroseconds();
            _ = SslStreamCertificateContext.Create(leaf, additionalCertificates: null, offline: true, LeafChainTrust.Instance);
            var t3a = ThreadCpuMicroseconds();
            _ = SslStreamCertificateContext.Create(leaf, additionalCertificates: null, offline: true, trust);
            var t3 = ThreadCpuMicroseconds();
            _ = SslStreamCertificateContext.Create(leaf, additionalCertificates: null, offline: true);
            var t4 = ThreadCpuMicroseconds();
            BuildChain(leaf, null);
            var t5 = ThreadCpuMicroseconds();
            BuildChain(leaf, root.Certificate);
            var t6 = ThreadCpuMicroseconds();
            if (i >= 0)
            {
                (parts[0][i], parts[1][i], parts[2][i], parts[3][i], parts[4][i], parts[5][i], parts[6][i]) =
                    (t1 - t0, t2 - t1, t3a - t2, t3 - t3a, t4 - t3, t5 - t4, t6 - t5);
            }
        }

        Console.WriteLine();
        Console.WriteLine($"The steps of an issuance without key generation, CPU µs on the calling thread ({count} each):");
        Console.WriteLine("| step | p50 µs |");
        Console.WriteLine("|---|---|");
        for (var p = 0; p < names.Length; p++)
        {
            Array.Sort(parts[p]);
            Console.WriteLine($"| {names[p]} | {parts[p][count / 2]:F0} |");
        }
    }

    private static void BuildChain(X509Certificate2 leaf, X509Certificate2? customRoot)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (customRoot is not null)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(customRoot);
        }

        chain.Build(leaf);
        foreach (var element in chain.ChainElements)
        {
            element.Certificate.Dispose();
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
