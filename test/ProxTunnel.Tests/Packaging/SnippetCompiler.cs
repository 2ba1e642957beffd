using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ProxTunnel.Tests.Packaging;

/// <summary>
/// Compiles one README snippet in process with Roslyn, as its own compilation against the library, ASP.NET Core, NUnit
/// and Playwright (everything this test assembly runs with). The convention, stated in the README:
/// a snippet is a file of a <c>Microsoft.NET.Sdk.Web</c> project (its implicit usings), plus usings of
/// <c>ProxTunnel</c>, <c>ProxTunnel.Certificates</c>, <c>ProxTunnel.Resolvers</c> and
/// <c>Microsoft.AspNetCore.Http.Features</c>; top-level statements make it a program, otherwise it is a library; a
/// snippet that uses <c>builder</c> without declaring it continues the first example (a <c>WebApplicationBuilder</c>).
/// </summary>
internal static class SnippetCompiler
{
    private const string Preamble = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Net.Http.Json;
        global using System.Threading;
        global using System.Threading.Tasks;
        global using Microsoft.AspNetCore.Builder;
        global using Microsoft.AspNetCore.Hosting;
        global using Microsoft.AspNetCore.Http;
        global using Microsoft.AspNetCore.Http.Features;
        global using Microsoft.AspNetCore.Routing;
        global using Microsoft.Extensions.Configuration;
        global using Microsoft.Extensions.DependencyInjection;
        global using Microsoft.Extensions.Hosting;
        global using Microsoft.Extensions.Logging;
        global using ProxTunnel;
        global using ProxTunnel.Certificates;
        global using ProxTunnel.Resolvers;
        global using static ReadmeSnippetContext;

        // Gives continuation snippets their `builder`; only compiled, never run (runnable recipes declare their own).
        internal static class ReadmeSnippetContext
        {
            public static WebApplicationBuilder builder => WebApplication.CreateBuilder();
        }
        """;

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    // Built once: a few hundred framework and package assemblies.
    private static readonly Lazy<MetadataReference[]> References = new(LoadReferences);

    /// <summary><paramref name="Diagnostics"/>: errors and warnings, each with its README file and line.</summary>
    public sealed record Result(IReadOnlyList<string> Diagnostics, byte[]? Assembly)
    {
        public string Report => string.Join(Environment.NewLine, Diagnostics);
    }

    public static Result Compile(ReadmeSnippets.Snippet snippet)
    {
        var tree = CSharpSyntaxTree.ParseText(snippet.Code, ParseOptions, path: snippet.File);
        var isProgram = tree.GetCompilationUnitRoot().Members.OfType<GlobalStatementSyntax>().Any();
        var options = new CSharpCompilationOptions(isProgram ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary)
            .WithNullableContextOptions(NullableContextOptions.Enable)
            .WithSpecificDiagnosticOptions(new Dictionary<string, ReportDiagnostic>
            {
                // Assembly version unification between framework and packages: the SDK silences these too.
                ["CS1701"] = ReportDiagnostic.Suppress,
                ["CS1702"] = ReportDiagnostic.Suppress,
            });
        var compilation = CSharpCompilation.Create(
            "ReadmeSnippet_" + Guid.NewGuid().ToString("N"),
            [CSharpSyntaxTree.ParseText(Preamble, ParseOptions, path: "preamble.cs"), tree],
            References.Value,
            options);

        using var output = new MemoryStream();
        var emit = compilation.Emit(output);
        var lines = emit.Diagnostics
            .Where(d => d.Severity is DiagnosticSeverity.Error or DiagnosticSeverity.Warning)
            .Select(d => Describe(snippet, d))
            .ToArray();
        return new Result(lines, emit.Success ? output.ToArray() : null);
    }

    private static string Describe(ReadmeSnippets.Snippet snippet, Diagnostic diagnostic)
    {
        var span = diagnostic.Location.GetLineSpan();
        var where = span.Path == snippet.File ? $"{snippet.File}:{snippet.Line + span.StartLinePosition.Line}" : span.Path;
        return $"{where}: {diagnostic.Id}: {diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
    }

    private static MetadataReference[] LoadReferences()
    {
        // The framework assemblies the test host runs on, then this test's own dependencies (library, NUnit, Playwright).
        var platform = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        var local = Directory.GetFiles(AppContext.BaseDirectory, "*.dll");
        return [.. platform.Concat(local)
            .DistinctBy(Path.GetFileName, StringComparer.OrdinalIgnoreCase)
            .Where(IsManagedAssembly)
            .Select(p => MetadataReference.CreateFromFile(p))];
    }

    private static bool IsManagedAssembly(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var pe = new PEReader(stream);
            return pe.HasMetadata && pe.GetMetadataReader().IsAssembly;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }

    /// <summary>Runs every <c>[Test]</c> method of a compiled recipe, as NUnit would run a test without set-up methods.</summary>
    public static async Task RunTestsAsync(byte[] assembly)
    {
        var context = new System.Runtime.Loader.AssemblyLoadContext("readme-snippet", isCollectible: true);
        try
        {
            using var image = new MemoryStream(assembly);
            var loaded = context.LoadFromStream(image);
            var tests = loaded.GetTypes()
                .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance).Select(m => (Type: t, Method: m)))
                .Where(x => x.Method.GetCustomAttribute<TestAttribute>() is not null)
                .ToArray();
            Assert.That(tests, Is.Not.Empty, "the recipe has no public [Test] method");
            foreach (var (type, method) in tests)
            {
                var instance = Activator.CreateInstance(type);
                try
                {
                    if (method.Invoke(instance, null) is Task task)
                    {
                        await task;
                    }
                }
                catch (TargetInvocationException ex) when (ex.InnerException is not null)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex.InnerException);
                }
            }
        }
        finally
        {
            context.Unload();
        }
    }
}
