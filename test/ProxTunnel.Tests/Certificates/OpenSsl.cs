using System.Diagnostics;

namespace ProxTunnel.Tests.Certificates;

/// <summary>Runs /usr/bin/openssl, the reference implementation the chain must satisfy.</summary>
internal static class OpenSsl
{
    private const string Executable = "/usr/bin/openssl";

    public static (int ExitCode, string Output) Run(string workingDirectory, params string[] arguments)
    {
        if (!File.Exists(Executable))
        {
            Assert.Ignore("openssl is not installed");
        }

        var start = new ProcessStartInfo(Executable)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr);
    }

    public static void MustSucceed(string workingDirectory, params string[] arguments)
    {
        var (exitCode, output) = Run(workingDirectory, arguments);
        Assert.That(exitCode, Is.Zero, $"openssl {string.Join(' ', arguments)} failed: {output}");
    }

    /// <summary>Writes both certificates as PEM and runs <c>openssl verify</c>, plain and with the sslserver purpose
    /// (strict X.509 checks too, unless the root came from elsewhere: a bare <c>openssl req -x509</c> root has no keyUsage).</summary>
    public static void Verify(string directory, byte[] rootDer, byte[] leafDer, bool strict = true)
    {
        var rootPath = Path.Combine(directory, "verify-root.pem");
        var leafPath = Path.Combine(directory, "verify-leaf.pem");
        File.WriteAllText(rootPath, System.Security.Cryptography.PemEncoding.WriteString("CERTIFICATE", rootDer) + "\n");
        File.WriteAllText(leafPath, System.Security.Cryptography.PemEncoding.WriteString("CERTIFICATE", leafDer) + "\n");
        MustSucceed(directory, "verify", "-CAfile", rootPath, leafPath);
        MustSucceed(directory, "verify", "-purpose", "sslserver", "-CAfile", rootPath, leafPath);
        if (strict)
        {
            MustSucceed(directory, "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", rootPath, leafPath);
        }
    }
}
