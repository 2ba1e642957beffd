using System.CommandLine;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ProxTunnel.Certificates;

namespace ProxTunnel.Gateway;

/// <summary>
/// <c>proxtunnel ca trust [--system]</c> and <c>ca untrust [--system]</c>: the root into (and out of) the user's NSS
/// databases (Chromium, Firefox) and, with <c>--system</c>, the Debian system store — as <c>dotnet dev-certs https --trust</c>.
/// The root is added under a nickname that carries its fingerprint, so untrust removes exactly that certificate and
/// nothing a user added by hand. A database trust had to create is marked so, and untrust removes it (with the
/// directories trust made for it) once it holds nothing else; one that holds other entries by then stays.
/// </summary>
internal static class CaTrust
{
    /// <summary>Environment variables that move the system store, for tests that must not touch the real one.</summary>
    internal const string SystemDirectoryVariable = "PROXTUNNEL_SYSTEM_CA_DIR";
    internal const string UpdateCommandVariable = "PROXTUNNEL_UPDATE_CA_COMMAND";

    private const string DefaultSystemDirectory = "/usr/local/share/ca-certificates";
    private const string DefaultUpdateCommand = "update-ca-certificates";

    // Written into an NSS database directory that trust created; NSS ignores files it does not know. Its one line is the
    // outermost directory trust made for the database (the database's own, or an ancestor), removed as far as empty;
    // empty when the directory was there already (then only the database's files go).
    private const string CreatedMarker = "proxtunnel-created";

    private static readonly string[] NssFiles = ["cert9.db", "key4.db", "pkcs11.txt"];

    public static IEnumerable<Command> Build(Option<string> ca)
    {
        var system = new Option<bool>("--system") { Description = $"Also the system store ({DefaultSystemDirectory} + update-ca-certificates; needs root)." };
        var trust = new Command("trust", "Trust the root in your NSS databases (Chromium ~/.pki/nssdb, created when missing; ~/.local/share/pki/nssdb; every Firefox profile).")
        {
            system,
        };
        trust.SetAction((parseResult, cancellationToken) => RunAsync(parseResult.GetValue(ca)!, add: true, parseResult.GetValue(system), cancellationToken));
        var untrustSystem = new Option<bool>("--system") { Description = "Also remove it from the system store (needs root)." };
        var untrust = new Command("untrust", "Remove the root that `ca trust` added, and only it.") { untrustSystem };
        untrust.SetAction((parseResult, cancellationToken) => RunAsync(parseResult.GetValue(ca)!, add: false, parseResult.GetValue(untrustSystem), cancellationToken));
        return [trust, untrust];
    }

    private static async Task<int> RunAsync(string caPath, bool add, bool system, CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsLinux())
        {
            await Console.Out.WriteAsync(ManualSteps(caPath, add).AsMemory(), cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }

        X509Certificate2 root;
        try
        {
            // Trusting creates the root when it does not exist yet; untrusting a root that was never made has nothing to do.
            if (!add && !File.Exists(caPath))
            {
                throw new InvalidOperationException($"The root CA file '{Path.GetFullPath(caPath)}' does not exist; nothing was trusted from it.");
            }

            using var authority = await CaCommands.OpenAsync(caPath, cancellationToken).ConfigureAwait(false);
            root = X509CertificateLoader.LoadCertificate(authority.RootCertificate.RawData);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException or CryptographicException)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}".AsMemory(), cancellationToken).ConfigureAwait(false);
            return ExitCodes.Failure;
        }

        using (root)
        {
            var stores = new TrustStores(root, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));
            var failures = 0;
            failures += await stores.NssAsync(add, Console.Out, Console.Error, cancellationToken).ConfigureAwait(false);
            if (system)
            {
                failures += await stores.SystemAsync(add, Console.Out, Console.Error, cancellationToken).ConfigureAwait(false);
            }
            else if (!add && stores.IsInSystemStore)
            {
                await Console.Out.WriteLineAsync(
                    $"note: the root is also in the system store ({stores.SystemFile}); remove it with `sudo proxtunnel ca untrust --system --ca {caPath}`."
                        .AsMemory(), cancellationToken).ConfigureAwait(false);
            }

            if (add && failures == 0)
            {
                await Console.Out.WriteLineAsync("Restart Chromium and Firefox so they read the new trust.".AsMemory(), cancellationToken).ConfigureAwait(false);
            }

            return failures == 0 ? ExitCodes.Success : ExitCodes.Failure;
        }
    }

    private static string ManualSteps(string caPath, bool add)
    {
        var b = new StringBuilder();
        b.AppendLine($"`proxtunnel ca {(add ? "trust" : "untrust")}` only edits stores on Linux. On this system:");
        if (add)
        {
            b.AppendLine($"  1. proxtunnel ca export --ca {caPath} --format cer --out proxtunnel-ca.cer");
            b.AppendLine(OperatingSystem.IsMacOS()
                ? "  2. security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db proxtunnel-ca.cer\n"
                    + "     (all users: sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain proxtunnel-ca.cer)"
                : "  2. certutil -user -addstore Root proxtunnel-ca.cer\n"
                    + "     (PowerShell: Import-Certificate -FilePath proxtunnel-ca.cer -CertStoreLocation Cert:\\CurrentUser\\Root)");
            b.AppendLine("  3. Firefox: Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import, or set security.enterprise_roots.enabled to true.");
        }
        else
        {
            b.AppendLine(OperatingSystem.IsMacOS()
                ? "  security delete-certificate -c \"<root CN, see proxtunnel ca export>\" ~/Library/Keychains/login.keychain-db"
                : "  certutil -user -delstore Root <SHA-1 thumbprint of the root>");
        }

        return b.ToString();
    }

    /// <summary>The stores of one user and the machine, for one root.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private sealed class TrustStores
    {
        private readonly X509Certificate2 _root;
        private readonly string _home;
        private readonly string _nickname;
        private readonly string _systemDirectory;

        public TrustStores(X509Certificate2 root, string home)
        {
            _root = root;
            _home = home;
            var fingerprint = Convert.ToHexString(root.GetCertHash(HashAlgorithmName.SHA256));
            _nickname = $"ProxTunnel root {fingerprint[..16]}";
            _systemDirectory = Environment.GetEnvironmentVariable(SystemDirectoryVariable) is { Length: > 0 } d ? d : DefaultSystemDirectory;
            SystemFile = Path.Combine(_systemDirectory, $"proxtunnel-{fingerprint[..16].ToLowerInvariant()}.crt");
        }

        public string SystemFile { get; }

        public bool IsInSystemStore => File.Exists(SystemFile);

        /// <summary>Adds or removes the root in every NSS database; returns the number of failures.</summary>
        public async Task<int> NssAsync(bool add, TextWriter output, TextWriter error, CancellationToken cancellationToken)
        {
            var certutil = FindOnPath("certutil");
            if (certutil is null)
            {
                await error.WriteLineAsync("error: certutil not found; install it (Debian/Ubuntu: apt install libnss3-tools; Fedora: dnf install nss-tools).".AsMemory(), cancellationToken)
                    .ConfigureAwait(false);
                return 1;
            }

            var failures = 0;
            var pem = Path.Combine(Path.GetTempPath(), $"proxtunnel-root-{Guid.NewGuid():N}.pem");
            await File.WriteAllTextAsync(pem, _root.ExportCertificatePem(), cancellationToken).ConfigureAwait(false);
            try
            {
                foreach (var (database, createIfMissing) in NssDatabases())
                {
                    var outcome = add
                        ? await AddAsync(certutil, database, createIfMissing, pem, cancellationToken).ConfigureAwait(false)
                        : await RemoveAsync(certutil, database, cancellationToken).ConfigureAwait(false);
                    if (outcome is null)
                    {
                        continue;
                    }

                    var failed = outcome.StartsWith("error:", StringComparison.Ordinal);
                    failures += failed ? 1 : 0;
                    await (failed ? error : output).WriteLineAsync(outcome.AsMemory(), cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                File.Delete(pem);
            }

            return failures;
        }

        /// <summary>Adds or removes the root file in the system store and runs update-ca-certificates; returns the number of failures.</summary>
        public async Task<int> SystemAsync(bool add, TextWriter output, TextWriter error, CancellationToken cancellationToken)
        {
            try
            {
                if (add)
                {
                    Directory.CreateDirectory(_systemDirectory);
                    await File.WriteAllTextAsync(SystemFile, _root.ExportCertificatePem() + "\n", cancellationToken).ConfigureAwait(false);
                }
                else if (IsInSystemStore)
                {
                    File.Delete(SystemFile);
                }
                else
                {
                    await output.WriteLineAsync($"system store: {SystemFile} not present, nothing to remove".AsMemory(), cancellationToken).ConfigureAwait(false);
                    return 0;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync($"error: system store: {ex.Message} (run it as root: sudo proxtunnel ca {(add ? "trust" : "untrust")} --system)".AsMemory(), cancellationToken)
                    .ConfigureAwait(false);
                return 1;
            }

            var update = Environment.GetEnvironmentVariable(UpdateCommandVariable) is { Length: > 0 } u ? u : DefaultUpdateCommand;
            var (exit, text) = await RunAsync(FindOnPath(update) ?? update, [], cancellationToken).ConfigureAwait(false);
            if (exit != 0)
            {
                await error.WriteLineAsync($"error: {update} failed ({exit}): {text.Trim()}".AsMemory(), cancellationToken).ConfigureAwait(false);
                return 1;
            }

            await output.WriteLineAsync($"system store: {(add ? "added" : "removed")} {SystemFile} and ran {update}".AsMemory(), cancellationToken).ConfigureAwait(false);
            return 0;
        }

        /// <summary>Chromium's databases (the first one created when missing) and every Firefox profile's.</summary>
        private IEnumerable<(string Path, bool CreateIfMissing)> NssDatabases()
        {
            yield return (Path.Combine(_home, ".pki", "nssdb"), true);
            var shared = Path.Combine(_home, ".local", "share", "pki", "nssdb");
            if (File.Exists(Path.Combine(shared, "cert9.db")))
            {
                yield return (shared, false);
            }

            foreach (var profile in FirefoxProfiles())
            {
                yield return (profile, false);
            }
        }

        private IEnumerable<string> FirefoxProfiles()
        {
            var found = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var firefox in new[] { Path.Combine(_home, ".mozilla", "firefox"), Path.Combine(_home, "snap", "firefox", "common", ".mozilla", "firefox") })
            {
                if (!Directory.Exists(firefox))
                {
                    continue;
                }

                var ini = Path.Combine(firefox, "profiles.ini");
                if (File.Exists(ini))
                {
                    foreach (var line in File.ReadLines(ini))
                    {
                        if (line.StartsWith("Path=", StringComparison.Ordinal))
                        {
                            var path = line[5..].Trim();
                            found.Add(Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(firefox, path)));
                        }
                    }
                }

                foreach (var directory in Directory.EnumerateDirectories(firefox))
                {
                    if (File.Exists(Path.Combine(directory, "cert9.db")))
                    {
                        found.Add(Path.GetFullPath(directory));
                    }
                }
            }

            // Only profiles with the SQL database (Firefox 58+); a profile directory that was never opened has none yet.
            return found.Where(p => File.Exists(Path.Combine(p, "cert9.db")));
        }

        private async Task<string?> AddAsync(string certutil, string database, bool createIfMissing, string pem, CancellationToken cancellationToken)
        {
            var created = false;
            if (!File.Exists(Path.Combine(database, "cert9.db")))
            {
                if (!createIfMissing)
                {
                    return null;
                }

                var outermost = OutermostMissing(database);
                Directory.CreateDirectory(database, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                var (createExit, createText) = await RunAsync(certutil, ["-d", "sql:" + database, "-N", "--empty-password"], cancellationToken).ConfigureAwait(false);
                if (createExit != 0)
                {
                    return $"error: {database}: cannot create the NSS database: {createText.Trim()}";
                }

                await File.WriteAllTextAsync(Path.Combine(database, CreatedMarker), outermost + "\n", cancellationToken).ConfigureAwait(false);
                created = true;
            }

            var (exit, text) = await RunAsync(certutil, ["-d", "sql:" + database, "-A", "-t", "C,,", "-n", _nickname, "-i", pem], cancellationToken).ConfigureAwait(false);
            return exit == 0
                ? $"trusted in {database}{(created ? " (database created)" : "")} as \"{_nickname}\""
                : $"error: {database}: certutil -A failed: {text.Trim()}";
        }

        private async Task<string?> RemoveAsync(string certutil, string database, CancellationToken cancellationToken)
        {
            if (!File.Exists(Path.Combine(database, "cert9.db")))
            {
                return null;
            }

            // The nickname is ours, but only a certificate with our root's exact bytes is removed.
            var (listExit, listed) = await RunAsync(certutil, ["-d", "sql:" + database, "-L", "-n", _nickname, "-a"], cancellationToken).ConfigureAwait(false);
            string outcome;
            if (listExit != 0 || !IsOurRoot(listed))
            {
                outcome = $"{database}: not trusted there, nothing to remove";
            }
            else
            {
                var (exit, text) = await RunAsync(certutil, ["-d", "sql:" + database, "-D", "-n", _nickname], cancellationToken).ConfigureAwait(false);
                if (exit != 0)
                {
                    return $"error: {database}: certutil -D failed: {text.Trim()}";
                }

                outcome = $"removed from {database}";
            }

            return outcome + await RemoveIfCreatedAndEmptyAsync(certutil, database, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Removes a database trust created once it holds no certificate and no key (a database with a password is
        /// never opened, so it stays), then the directories trust made for it as far as they are empty. Returns what
        /// it did, to follow the removal's line.
        /// </summary>
        private static async Task<string> RemoveIfCreatedAndEmptyAsync(string certutil, string database, CancellationToken cancellationToken)
        {
            var marker = Path.Combine(database, CreatedMarker);
            if (!File.Exists(marker))
            {
                return "";
            }

            var (listExit, certificates) = await RunAsync(certutil, ["-d", "sql:" + database, "-L"], cancellationToken).ConfigureAwait(false);
            var (_, keys) = await RunAsync(certutil, ["-d", "sql:" + database, "-K", "-f", "/dev/null"], cancellationToken).ConfigureAwait(false);
            if (listExit != 0 || ListsCertificates(certificates) || !keys.Contains("no keys found", StringComparison.Ordinal))
            {
                return "; the database `ca trust` created stays: it holds other entries now";
            }

            foreach (var file in NssFiles)
            {
                File.Delete(Path.Combine(database, file));
            }

            var made = (await File.ReadAllTextAsync(marker, cancellationToken).ConfigureAwait(false)).Trim();
            File.Delete(marker);
            var outermost = made.Length > 0 ? Path.GetFullPath(made) : null;
            for (var directory = Path.GetFullPath(database);
                 outermost is not null && (directory == outermost || directory.StartsWith(outermost + Path.DirectorySeparatorChar, StringComparison.Ordinal));
                 directory = Path.GetDirectoryName(directory)!)
            {
                if (Directory.EnumerateFileSystemEntries(directory).Any())
                {
                    break;
                }

                Directory.Delete(directory);
            }

            return "; the database `ca trust` created held nothing else and was removed";
        }

        /// <summary>Whether <c>certutil -L</c> printed any certificate below its two header lines.</summary>
        private static bool ListsCertificates(string listing) =>
            listing.Split('\n').Select(line => line.Trim())
                .Any(line => line.Length > 0 && !line.StartsWith("Certificate Nickname", StringComparison.Ordinal) && line != "SSL,S/MIME,JAR/XPI");

        /// <summary>The outermost of <paramref name="directory"/> and its ancestors that does not exist yet; null when it exists.</summary>
        private static string? OutermostMissing(string directory)
        {
            string? outermost = null;
            for (var current = Path.GetFullPath(directory); current is not null && !Directory.Exists(current); current = Path.GetDirectoryName(current))
            {
                outermost = current;
            }

            return outermost;
        }

        /// <summary>
        /// Whether <c>certutil -L -n NICK -a</c> printed our root. It prints every certificate with the same subject as
        /// the one named (every ProxTunnel root has the default subject unless configured), in no fixed order.
        /// </summary>
        private bool IsOurRoot(string pem)
        {
            var listed = new X509Certificate2Collection();
            try
            {
                listed.ImportFromPem(pem);
                return listed.Any(certificate => certificate.RawDataMemory.Span.SequenceEqual(_root.RawDataMemory.Span));
            }
            catch (CryptographicException)
            {
                return false;
            }
            finally
            {
                foreach (var certificate in listed)
                {
                    certificate.Dispose();
                }
            }
        }
    }

    private static string? FindOnPath(string name)
    {
        if (name.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(name) ? name : null;
        }

        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return (process.ExitCode, await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false));
    }
}
