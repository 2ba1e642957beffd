using ProxTunnel.Certificates;

namespace ProxTunnel.Tests.Certificates;

[TestFixture]
public sealed class WildcardTests
{
    [TestCase("a.example.co.uk", "*.example.co.uk")]
    [TestCase("a.b.example.co.uk", "*.b.example.co.uk")]
    [TestCase("example.co.uk", "example.co.uk")]
    [TestCase("foo.vn.ua", "foo.vn.ua")]
    [TestCase("x.y.vn.ua", "*.y.vn.ua")]
    [TestCase("example.com", "example.com")]
    [TestCase("www.example.com", "*.example.com")]
    [TestCase("localhost", "localhost")]
    [TestCase("a.localhost", "a.localhost")]
    [TestCase("foo.github.io", "foo.github.io")]
    [TestCase("x.foo.github.io", "*.foo.github.io")]
    [TestCase("a.b.kawasaki.jp", "a.b.kawasaki.jp")]
    [TestCase("a.city.kawasaki.jp", "*.city.kawasaki.jp")]
    [TestCase("a.www.ck", "*.www.ck")]
    [TestCase("a.b.ck", "a.b.ck")]
    [TestCase("127.0.0.1", "127.0.0.1")]
    [TestCase("[::1]", "::1")]
    public void Resolve_WithWildcards_NeverCoversAPublicSuffix(string host, string expectedKey)
    {
        var target = HostNames.Resolve(host, wildcard: true);
        Assert.That(target.Key, Is.EqualTo(expectedKey));
        if (expectedKey.StartsWith("*.", StringComparison.Ordinal))
        {
            Assert.That(target.DnsNames, Is.EqualTo(new[] { expectedKey, expectedKey[2..] }));
        }
    }

    [TestCase("com", true)]
    [TestCase("co.uk", true)]
    [TestCase("vn.ua", true)]
    [TestCase("github.io", true)]
    [TestCase("anything.kawasaki.jp", true)]
    [TestCase("city.kawasaki.jp", false)]
    [TestCase("example.com", false)]
    [TestCase("unknown-tld", true)]
    [TestCase("xn--fiqs8s", true)]
    public void IsPublicSuffix_FollowsListRules(string domain, bool expected)
    {
        Assert.That(PublicSuffixList.Default.IsPublicSuffix(domain), Is.EqualTo(expected));
    }

    [Test]
    public void GetHostCertificate_WithWildcards_SiblingsShareOneCertificate()
    {
        using var dir = new TestDirectory();
        using var ca = new ProxyCertificateAuthority(new CertificateAuthorityOptions
        {
            RootCertificatePath = dir.File("root.pem"),
            UseWildcardCertificates = true,
        });

        var a = ca.GetHostCertificate("a.example.co.uk");
        var b = ca.GetHostCertificate("b.example.co.uk");
        var exact = ca.GetHostCertificate("example.co.uk");

        Assert.That(b, Is.SameAs(a));
        Assert.That(CertificateAssert.DnsNames(a), Is.EqualTo(new[] { "*.example.co.uk", "example.co.uk" }));
        Assert.That(a.MatchesHostname("a.example.co.uk"), Is.True);
        Assert.That(CertificateAssert.DnsNames(exact), Is.EqualTo(new[] { "example.co.uk" }));
        Assert.That(ca.IssuedCount, Is.EqualTo(2));
        CertificateAssert.ChainBuilds(ca.RootCertificate, a);
        OpenSsl.Verify(dir.Path, ca.RootCertificate.RawData, a.RawData);
        var leafPath = dir.File("wild.pem");
        File.WriteAllText(leafPath, System.Security.Cryptography.PemEncoding.WriteString("CERTIFICATE", a.RawData));
        OpenSsl.MustSucceed(dir.Path, "verify", "-CAfile", dir.File("verify-root.pem"), "-verify_hostname", "b.example.co.uk", leafPath);
    }
}
