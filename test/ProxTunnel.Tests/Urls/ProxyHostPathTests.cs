using System.Text;
using ProxTunnel.Certificates;
using ProxTunnel.ProxyHost;
using ProxTunnel.Tests.Certificates;

namespace ProxTunnel.Tests.Urls;

/// <summary>The proxy host's own pages are matched on the canonical path, so no spelling of them reaches the app.</summary>
public sealed class ProxyHostPathTests
{
    private TestDirectory _directory = null!;
    private ProxyCertificateAuthority _authority = null!;
    private ProxyHostPages _pages = null!;

    [OneTimeSetUp]
    public void Setup()
    {
        _directory = new TestDirectory();
        _authority = new ProxyCertificateAuthority(new CertificateAuthorityOptions { RootCertificatePath = Path.Combine(_directory.Path, "ca.pem") });
        _pages = new ProxyHostPages(_authority, "proxtunnel");
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        _authority.Dispose();
        _directory.Dispose();
    }

    [TestCase("/download/pem")]
    [TestCase("/%64ownload/pem")]
    [TestCase("/%64%6F%77%6E%6C%6F%61%64/%70%65%6D")]
    [TestCase("/./download/pem")]
    [TestCase("/x/../download/pem")]
    [TestCase("/%2e%2e/download/pem")]
    [TestCase("/a/b/%2E%2E/../download/./pem")]
    [TestCase("\\download\\pem")]
    [TestCase("/DOWNLOAD/PEM")]
    [TestCase("/download/pem?x=1")]
    [TestCase("/download/pem#frag")]
    [TestCase("download/pem")]
    public void Find_AnySpellingOfTheDownload_IsThePem(string path)
    {
        Assert.That(Find(path), Is.SameAs(_pages.Find("/download/pem"u8)));
    }

    [TestCase("/download/nope")]
    [TestCase("/download/")]
    [TestCase("/download")]
    [TestCase("/%64ownload/nope")]
    [TestCase("/x/../download/../download/x")]
    public void Find_UnknownNamesUnderDownload_AreTheLibrarysNotFound(string path)
    {
        Assert.That(Find(path), Is.SameAs(_pages.Find("/download/nope"u8)));
    }

    [TestCase("")]
    [TestCase("/")]
    [TestCase("/.")]
    [TestCase("/x/..")]
    [TestCase("/?q")]
    public void Find_RootSpellings_AreTheLandingPage(string path)
    {
        Assert.That(Find(path), Is.SameAs(_pages.Find("/"u8)));
    }

    [TestCase("/app")]
    [TestCase("/downloads/pem")]
    [TestCase("/download%2Fpem")]
    [TestCase("/x/download/pem")]
    public void Find_OtherPaths_BelongToTheApp(string path)
    {
        Assert.That(Find(path), Is.Null);
    }

    private byte[]? Find(string path) => _pages.Find(Encoding.ASCII.GetBytes(path));
}
