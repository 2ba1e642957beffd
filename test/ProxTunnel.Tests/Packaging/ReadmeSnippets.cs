using System.Text;

namespace ProxTunnel.Tests.Packaging;

/// <summary>The <c>```csharp</c> blocks of the repository's README.md, and of README text waiting in notes/*-README.md
/// for the next merge into it.</summary>
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
        var files = new List<string> { Repository.PathOf("README.md") };
        var notes = Repository.PathOf("notes");
        if (Directory.Exists(notes))
        {
            files.AddRange(Directory.GetFiles(notes, "*README.md").Order(StringComparer.Ordinal));
        }

        return [.. files.SelectMany(Extract)];
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
