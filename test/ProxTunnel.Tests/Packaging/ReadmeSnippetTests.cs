namespace ProxTunnel.Tests.Packaging;

/// <summary>Every C# snippet of the README compiles (warnings count), and the recipes written as tests pass.</summary>
public sealed class ReadmeSnippetTests
{
    public static IEnumerable<TestCaseData> Snippets() => ReadmeSnippets.All.Select(s => new TestCaseData(s.File, s.Line));

    public static IEnumerable<TestCaseData> RunnableRecipes()
        => ReadmeSnippets.All.Where(s => s.IsRunnableTest).Select(s => new TestCaseData(s.File, s.Line));

    [Test]
    public void Readme_WhenRead_HasSnippets()
    {
        Assert.That(ReadmeSnippets.All.Where(s => s.File == "README.md"), Is.Not.Empty);
    }

    [TestCaseSource(nameof(Snippets))]
    public void Snippet_WhenCompiledWithTheLibrary_HasNoErrorOrWarning(string file, int line)
    {
        var result = SnippetCompiler.Compile(ReadmeSnippets.At(file, line));
        Assert.That(result.Diagnostics, Is.Empty, result.Report);
    }

    [TestCaseSource(nameof(RunnableRecipes))]
    public async Task Recipe_WhenRunAsNUnitTest_Passes(string file, int line)
    {
        var snippet = ReadmeSnippets.At(file, line);
        if (snippet.Code.Contains("/usr/bin/chromium", StringComparison.Ordinal) && !File.Exists("/usr/bin/chromium"))
        {
            Assert.Ignore("chromium is not installed (test/run-all.sh installs it)");
        }

        var result = SnippetCompiler.Compile(snippet);
        Assert.That(result.Assembly, Is.Not.Null, result.Report);
        await SnippetCompiler.RunTestsAsync(result.Assembly!);
    }
}
