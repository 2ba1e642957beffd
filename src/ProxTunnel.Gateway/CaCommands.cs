using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ProxTunnel.Certificates;

namespace ProxTunnel.Gateway;

/// <summary><c>proxtunnel ca init | issue | export</c> (and <c>trust | untrust</c>, see <see cref="CaTrust"/>): managing the root CA from the command line, like certauth.</summary>
internal static class CaCommands
{
    private static readonly string[] Formats = ["pem", "p12", "cer"];

    /// <summary>Builds the <c>ca</c> command; <paramref name="ca"/> is the recursive <c>--ca PATH</c> option of the root.</summary>
    public static Command Build(Option<string> ca)
    {
        var command = new Command("ca", "Manage the root CA: create it, issue host certificates, export the root for clients.");

        var force = new Option<bool>("--force") { Description = "Replace an existing root; the old file is renamed to <path>.bak-<UTC timestamp>." };
        var init = new Command("init", "Create the root CA file.") { force };
        init.SetAction((parseResult, cancellationToken) => InitAsync(parseResult.GetValue(ca)!, parseResult.GetValue(force), cancellationToken));

        var host = new Argument<string>("HOST") { Description = "DNS name, IDN, IPv4 or IPv6 address." };
        var wildcard = new Option<bool>("--wildcard") { Description = "Issue *.parent-domain (never directly under a public suffix)." };
        var issueOut = new Option<FileInfo?>("--out") { Description = "Write key and certificate PEM here (mode 0600) instead of stdout.", HelpName = "FILE" };
        var issue = new Command("issue", "Issue a host certificate; prints its private key and certificate as PEM.") { host, wildcard, issueOut };
        issue.SetAction((parseResult, cancellationToken) =>
            IssueAsync(parseResult, parseResult.GetValue(ca)!, parseResult.GetValue(host)!, parseResult.GetValue(wildcard), parseResult.GetValue(issueOut), cancellationToken));

        var format = new Option<string>("--format")
        {
            Description = "pem, p12 (certificate only, empty password) or cer (DER).",
            HelpName = "FORMAT",
            DefaultValueFactory = _ => "pem",
        };
        format.AcceptOnlyFromAmong(Formats);
        var exportOut = new Option<FileInfo?>("--out") { Description = "Write here instead of stdout (binary formats need it unless stdout is redirected).", HelpName = "FILE" };
        var export = new Command("export", "Export the root certificate (never its key) for clients to trust.") { format, exportOut };
        export.SetAction((parseResult, cancellationToken) =>
            ExportAsync(parseResult, parseResult.GetValue(ca)!, parseResult.GetValue(format)!, parseResult.GetValue(exportOut), cancellationToken));

        command.Add(init);
        command.Add(issue);
        command.Add(export);
        foreach (var trust in CaTrust.Build(ca))
        {
            command.Add(trust);
        }
        return command;
    }

    private static async Task<int> InitAsync(string caPath, bool force, CancellationToken cancellationToken)
    {
        try
        {
            var path = ProxyCertificateAuthority.InitializeRoot(new CertificateAuthorityOptions { RootCertificatePath = caPath }, force);
            using var authority = new ProxyCertificateAuthority(new CertificateAuthorityOptions { RootCertificatePath = path });
            var expires = authority.RootCertificate.NotAfter.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture);
            await Console.Out.WriteLineAsync(
                $"created root CA {path}\nSHA-256 fingerprint: {authority.RootSha256Fingerprint}\nexpires: {expires}".AsMemory(), cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException or CryptographicException)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}".AsMemory(), cancellationToken).ConfigureAwait(false);
            return ExitCodes.Failure;
        }
    }

    private static async Task<int> IssueAsync(ParseResult parseResult, string caPath, string host, bool wildcard, FileInfo? output, CancellationToken cancellationToken)
    {
        string pem;
        try
        {
            using var authority = await OpenAsync(caPath, cancellationToken).ConfigureAwait(false);
            pem = authority.IssueCertificatePem(host, wildcard);
        }
        catch (ArgumentException ex)
        {
            return GatewayCommandLine.ReportUsageError(parseResult, [ex.Message]);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException or CryptographicException)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}".AsMemory(), cancellationToken).ConfigureAwait(false);
            return ExitCodes.Failure;
        }

        if (output is null)
        {
            await Console.Error.WriteLineAsync(
                "warning: printing a PRIVATE KEY on stdout; anyone who gets it can impersonate this host. Use --out FILE to write it to a file only you can read."
                    .AsMemory(), cancellationToken).ConfigureAwait(false);
        }

        var bytes = Encoding.ASCII.GetBytes(pem);
        try
        {
            return await WriteAsync(bytes, output, privateFile: true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    private static async Task<int> ExportAsync(ParseResult parseResult, string caPath, string format, FileInfo? output, CancellationToken cancellationToken)
    {
        var exportFormat = format switch
        {
            "p12" => CertificateExportFormat.Pkcs12,
            "cer" => CertificateExportFormat.Der,
            _ => CertificateExportFormat.Pem,
        };
        if (exportFormat != CertificateExportFormat.Pem && output is null && !Console.IsOutputRedirected)
        {
            return GatewayCommandLine.ReportUsageError(
                parseResult, [$"refusing to write binary {format} data to a terminal: give --out FILE or redirect stdout."]);
        }

        byte[] data;
        try
        {
            using var authority = await OpenAsync(caPath, cancellationToken).ConfigureAwait(false);
            data = authority.ExportRoot(exportFormat);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException or CryptographicException)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}".AsMemory(), cancellationToken).ConfigureAwait(false);
            return ExitCodes.Failure;
        }

        return await WriteAsync(data, output, privateFile: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens (or creates, saying so on stderr) the root CA.</summary>
    internal static async Task<ProxyCertificateAuthority> OpenAsync(string caPath, CancellationToken cancellationToken)
    {
        var authority = new ProxyCertificateAuthority(new CertificateAuthorityOptions { RootCertificatePath = caPath });
        if (authority.RootWasCreated)
        {
            await Console.Error.WriteLineAsync(
                $"created root CA {authority.RootCertificatePath} (SHA-256 {authority.RootSha256Fingerprint})".AsMemory(), cancellationToken).ConfigureAwait(false);
        }

        return authority;
    }

    private static async Task<int> WriteAsync(byte[] data, FileInfo? output, bool privateFile, CancellationToken cancellationToken)
    {
        try
        {
            if (output is null)
            {
                var stdout = Console.OpenStandardOutput();
                await using (stdout.ConfigureAwait(false))
                {
                    await stdout.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                    await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
                }

                return ExitCodes.Success;
            }

            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
            if (privateFile && !OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            var file = new FileStream(output.FullName, options);
            await using (file.ConfigureAwait(false))
            {
                if (privateFile && !OperatingSystem.IsWindows())
                {
                    // UnixCreateMode only applies to new files; an existing file keeps its mode unless we tighten it.
                    File.SetUnixFileMode(file.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }

                await file.WriteAsync(data, cancellationToken).ConfigureAwait(false);
            }

            await Console.Error.WriteLineAsync($"wrote {output.FullName}".AsMemory(), cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}".AsMemory(), cancellationToken).ConfigureAwait(false);
            return ExitCodes.Failure;
        }
    }
}
