using ProxTunnel.Tests.Certificates;

namespace ProxTunnel.Tests.Gateway;

/// <summary>An htpasswd file in its own temp directory, written with the real <c>htpasswd -B</c> (Debian apache2-utils).</summary>
internal sealed class Htpasswd : IDisposable
{
    private const string Tool = "/usr/bin/htpasswd";
    private readonly TestDirectory _directory = new();

    private Htpasswd()
    {
        Path = _directory.File("users.htpasswd");
    }

    public string Path { get; }

    /// <summary>Creates the file with <paramref name="users"/>; ignores the test when htpasswd is not installed.</summary>
    public static async Task<Htpasswd> CreateAsync(params (string User, string Password)[] users)
    {
        if (!File.Exists(Tool))
        {
            Assert.Ignore("htpasswd is not installed (apt-get install apache2-utils)");
        }

        var file = new Htpasswd();
        foreach (var (user, password) in users)
        {
            await file.SetAsync(user, password);
        }

        return file;
    }

    /// <summary>Adds or replaces <paramref name="user"/> with a bcrypt hash of <paramref name="password"/>.</summary>
    public async Task SetAsync(string user, string password)
    {
        var arguments = new List<string> { "-B", "-b" };
        if (!File.Exists(Path))
        {
            arguments.Add("-c");
        }

        arguments.AddRange([Path, user, password]);
        var result = await ExternalProcess.RunAsync(Tool, arguments, TimeSpan.FromSeconds(30));
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
    }

    public void Dispose() => _directory.Dispose();
}
