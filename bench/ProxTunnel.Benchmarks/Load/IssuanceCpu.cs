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

            PrintParts(count);
            return 0;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// The platform steps an issuance is made of, each on the thread's CPU clock: what is left once key generation is
    /// off the path. The TLS context builds its leaf's chain; by default against the system store (every system root
    /// copied into a fresh OpenSSL store), with a trust of our root alone (what the CA passes) against that root.
    /// </summary>
    private static void PrintParts(int count)
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootRequest = new CertificateRequest("CN=issuance-cpu root", rootKey, HashAlgorithmName.SHA256);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, false, 0, critical: true));
        using var root = rootRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        var signer = X509SignatureGenerator.CreateForECDsa(rootKey);
        var trust = SslCertificateTrust.CreateForX509Collection(new X509Certificate2Collection(root), sendTrustInHandshake: false);
        string[] names = ["build the request and sign it (CertificateRequest.Create)", "attach the key (CopyWithPrivateKey)",
            "SslStreamCertificateContext.Create, trust = the root (what the CA does)", "SslStreamCertificateContext.Create, default (system trust)",
            "  X509Chain.Build, system trust", "  X509Chain.Build, one custom root"];
        var parts = names.Select(_ => new double[count]).ToArray();
        for (var i = -100; i < count; i++)
        {
            using var key = (ECDsa)CertificateKeys.Create(CertificateKeyAlgorithm.EcdsaP256);
            var host = $"p{i + 100}.example.com";
            var t0 = ThreadCpuMicroseconds();
            var request = new CertificateRequest($"CN={host}", key, HashAlgorithmName.SHA256);
            var sans = new SubjectAlternativeNameBuilder();
            sans.AddDnsName(host);
            request.CertificateExtensions.Add(sans.Build());
            using var signed = request.Create(root.SubjectName, signer, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(46), CertificateKeys.NewSerialNumber());
            var t1 = ThreadCpuMicroseconds();
            using var leaf = signed.CopyWithPrivateKey(key);
            var t2 = ThreadCpuMicroseconds();
            _ = SslStreamCertificateContext.Create(leaf, additionalCertificates: null, offline: true, trust);
            var t3 = ThreadCpuMicroseconds();
            _ = SslStreamCertificateContext.Create(leaf, additionalCertificates: null, offline: true);
            var t4 = ThreadCpuMicroseconds();
            BuildChain(leaf, null);
            var t5 = ThreadCpuMicroseconds();
            BuildChain(leaf, root);
            var t6 = ThreadCpuMicroseconds();
            if (i >= 0)
            {
                (parts[0][i], parts[1][i], parts[2][i], parts[3][i], parts[4][i], parts[5][i]) = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5);
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
