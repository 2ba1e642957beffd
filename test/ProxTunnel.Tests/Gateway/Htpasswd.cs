namespace ProxTunnel.Tests.Gateway;

/// <summary>Writes htpasswd files with the real <c>htpasswd -B</c> (Debian apache2-utils), as users would.</summary>
internal static class Htpasswd
{
    public const string Path = "/usr/bin/htpasswd";

    public static void RequireInstalled()
    {
        if (!File.Exists(Path))
        {
            Assert.Ignore("htpasswd is not installed (apt-get install apache2-utils)");
        }
    }

    /// <summary>Adds or replaces <paramref name="user"/> in <paramref name="file"/> (created when missing) with a bcrypt hash.</summary>
    public static async Task SetAsync(string file, string user, string password)
    {
        var arguments = new List<string> { "-B", "-b" };
        if (!File.Exists(file))
        {
            arguments.Add("-c");
        }

        arguments.AddRange([file, user, password]);
        var result = await ExternalProcess.RunAsync(Path, arguments, TimeSpan.FromSeconds(30));
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
    }
}
