using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;
using ProxTunnel.Tests.Gateway;

namespace ProxTunnel.Tests.Packaging;

/// <summary>Packs the library with <c>dotnet pack</c> (from the build the tests already made) and reads the .nupkg as a
/// consumer's NuGet client would.</summary>
[NonParallelizable]
public sealed class LibraryPackageTests
{
    private const string PackageId = "ProxTunnel";
    private string _output = null!;
    private string _nupkg = null!;

    [OneTimeSetUp]
    public async Task PackAsync()
    {
        _output = Path.Combine(Path.GetTempPath(), "proxtunnel-pack-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_output);
        // --no-build: the test run built the library already; packing must not rebuild under running tests.
        var pack = await ExternalProcess.RunAsync(
            "dotnet",
            ["pack", Repository.PathOf("src", "ProxTunnel", "ProxTunnel.csproj"), "-c", Repository.Configuration, "--no-build", "-o", _output, "-nologo"],
            TimeSpan.FromMinutes(3));
        Assert.That(pack.ExitCode, Is.Zero, pack.ToString());
        _nupkg = Directory.GetFiles(_output, PackageId + ".*.nupkg").Single(p => !p.EndsWith(".symbols.nupkg", StringComparison.Ordinal));
    }

    [OneTimeTearDown]
    public void Clean()
    {
        if (_output is not null && Directory.Exists(_output))
        {
            Directory.Delete(_output, recursive: true);
        }
    }

    [Test]
    public void Nuspec_WhenPacked_DeclaresLicenceReadmeDescriptionAndTags()
    {
        using var package = ZipFile.OpenRead(_nupkg);
        var metadata = ReadNuspec(package).Element(Ns("metadata"))!;
        var license = metadata.Element(Ns("license"));
        var readme = (string?)metadata.Element(Ns("readme"));
        Assert.Multiple(() =>
        {
            Assert.That((string?)metadata.Element(Ns("id")), Is.EqualTo(PackageId));
            Assert.That((string?)license?.Attribute("type"), Is.EqualTo("expression"));
            Assert.That(license?.Value, Is.EqualTo("MIT"));
            Assert.That(readme, Is.EqualTo("README.md"));
            Assert.That(package.GetEntry("README.md"), Is.Not.Null, "the readme named in the nuspec is inside the package");
            Assert.That((string?)metadata.Element(Ns("description")), Does.Contain("Kestrel"));
            Assert.That(((string?)metadata.Element(Ns("tags")))?.Split(' '), Does.Contain("proxy").And.Contain("kestrel"));
            Assert.That((string?)metadata.Element(Ns("authors")), Is.Not.Empty);
        });
    }

    [Test]
    public void Package_WhenPacked_CarriesAssemblyAndItsXmlDocs()
    {
        using var package = ZipFile.OpenRead(_nupkg);
        var files = package.Entries.Select(e => e.FullName).ToArray();
        Assert.That(files, Does.Contain("lib/net10.0/ProxTunnel.Core.dll").And.Contain("lib/net10.0/ProxTunnel.Core.xml"));
    }

    [Test]
    public void Dependencies_WhenPacked_AreEachReferencedByTheLibraryAssembly()
    {
        using var package = ZipFile.OpenRead(_nupkg);
        var dependencies = ReadNuspec(package).Descendants(Ns("dependency"))
            .Select(d => (Id: (string)d.Attribute("id")!, Version: (string)d.Attribute("version")!))
            .ToArray();
        var referenced = ReferencedAssemblies(package, "lib/net10.0/ProxTunnel.Core.dll");

        // A package earns its place only if the compiled library references one of its assemblies; the compiler drops
        // references to assemblies nothing uses, so this catches a PackageReference left behind.
        Assert.Multiple(() =>
        {
            foreach (var (id, version) in dependencies)
            {
                var assemblies = PackageAssemblies(id, version);
                Assert.That(assemblies.Intersect(referenced, StringComparer.OrdinalIgnoreCase), Is.Not.Empty,
                    $"package dependency {id} {version} (assemblies: {string.Join(", ", assemblies)}) is not used by ProxTunnel.Core.dll");
            }
        });
    }

    [Test]
    public void SymbolPackage_WhenPacked_HoldsThePdb()
    {
        var snupkg = Path.ChangeExtension(_nupkg, ".snupkg");
        Assert.That(File.Exists(snupkg), Is.True, $"{snupkg} exists");
        using var symbols = ZipFile.OpenRead(snupkg);
        Assert.That(symbols.Entries.Select(e => e.FullName), Does.Contain("lib/net10.0/ProxTunnel.Core.pdb"));
    }

    // The namespace NuGet writes into every nuspec it packs.
    private static XName Ns(string name) => XName.Get(name, "http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd");

    private static XElement ReadNuspec(ZipArchive package)
    {
        var entry = package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/', StringComparison.Ordinal));
        using var stream = entry.Open();
        return XDocument.Load(stream).Root!;
    }

    private static string[] ReferencedAssemblies(ZipArchive package, string path)
    {
        using var stream = package.GetEntry(path)!.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        copy.Position = 0;
        using var pe = new PEReader(copy);
        var reader = pe.GetMetadataReader();
        return [.. reader.AssemblyReferences.Select(h => reader.GetString(reader.GetAssemblyReference(h).Name))];
    }

    /// <summary>Assembly names a package puts on a consumer's compile path, read from the global packages folder that
    /// restore filled.</summary>
    private static string[] PackageAssemblies(string id, string version)
    {
        var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var lib = Path.Combine(root, id.ToLowerInvariant(), version.Trim('[', ']', '(', ')').Split(',')[0], "lib");
        Assert.That(Directory.Exists(lib), Is.True, $"restored package folder {lib}");
        return [.. Directory.GetFiles(lib, "*.dll", SearchOption.AllDirectories).Select(Path.GetFileNameWithoutExtension).OfType<string>().Distinct()];
    }
}
