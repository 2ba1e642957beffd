using System.Text;

namespace ProxTunnel.Tests.Packaging;

/// <summary>The <c>```csharp</c> blocks of the repository's README.md.</summary>
internal static class ReadmeSnippets
{
    public sealed record Snippet(string File, int Line, string Code)
    {
        /// <summary>A recipe written as an NUnit test: the snippet test also runs it.</summary>
        public bool IsRunnableTest => Code.Contains("[Test]", StringComparison.Ordinal);

        public override string ToString() => $"{File}:{Line}";
    }

    public static IReadOnlyList<Snippet> All { get; } = Load();

    public static Snippet At(string file, int line) => All.Single(s => s.File == file && s.Line == line);

    private static List<Snippet> Load()
    {
        return [.. Extract(Repository.PathOf("README.md"))];
    }

    private static IEnumerable<Snippet> Extract(string path)
    {
        var name = Path.GetRelativePath(Repository.Root, path);
        var lines = File.ReadAllLines(path);
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].TrimEnd() != "```csharp")
            {
                continue;
            }

            var start = i + 1;
            var code = new StringBuilder();
            for (i = start; i < lines.Length && lines[i].TrimEnd() != "```"; i++)
            {
                code.AppendLine(lines[i]);
            }

            yield return new Snippet(name, start + 1, code.ToString());
        }
    }
}
