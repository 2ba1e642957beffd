using System.Text;
using ProxTunnel.Rewriting;
using ProxTunnel.Urls;

namespace ProxTunnel.Tests.Urls;

public sealed class HostNameTests
{
    [TestCase("example.com", "example.com", "Dns")]
    [TestCase("EXAMPLE.Com", "example.com", "Dns")]
    [TestCase("example.com.", "example.com", "Dns")]
    [TestCase("Example.COM.", "example.com", "Dns")]
    [TestCase("under_score.example", "under_score.example", "Dns")]
    [TestCase("localhost", "localhost", "Dns")]
    [TestCase("%65xample.com", "example.com", "Dns")]
    [TestCase("bücher.de", "xn--bcher-kva.de", "Dns")]
    [TestCase("BÜCHER.DE", "xn--bcher-kva.de", "Dns")]
    [TestCase("xn--bcher-kva.de", "xn--bcher-kva.de", "Dns")]
    [TestCase("XN--BCHER-KVA.de", "xn--bcher-kva.de", "Dns")]
    [TestCase("ＥＸＡＭＰＬＥ。com", "example.com", "Dns")]
    [TestCase("127.0.0.1", "127.0.0.1", "IPv4")]
    [TestCase("2130706433", "127.0.0.1", "IPv4")]
    [TestCase("0x7f.0.0.1", "127.0.0.1", "IPv4")]
    [TestCase("0x7F000001", "127.0.0.1", "IPv4")]
    [TestCase("0177.1", "127.0.0.1", "IPv4")]
    [TestCase("0177.0.0.01", "127.0.0.1", "IPv4")]
    [TestCase("127.1", "127.0.0.1", "IPv4")]
    [TestCase("127.0.1", "127.0.0.1", "IPv4")]
    [TestCase("127.0.0.1.", "127.0.0.1", "IPv4")]
    [TestCase("0x", "0.0.0.0", "IPv4")]
    [TestCase("4294967295", "255.255.255.255", "IPv4")]
    [TestCase("%31%32%37.0.0.1", "127.0.0.1", "IPv4")]
    [TestCase("[::1]", "[::1]", "IPv6")]
    [TestCase("[0:0:0:0:0:0:0:1]", "[::1]", "IPv6")]
    [TestCase("[2001:DB8::0:1]", "[2001:db8::1]", "IPv6")]
    [TestCase("[2001:db8:0:0:1:0:0:1]", "[2001:db8::1:0:0:1]", "IPv6")]
    [TestCase("[1:0:0:2::3]", "[1:0:0:2::3]", "IPv6")]
    [TestCase("[1::]", "[1::]", "IPv6")]
    [TestCase("[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "IPv6")]
    [TestCase("[1:2:3:4:5:6:7:8]", "[1:2:3:4:5:6:7:8]", "IPv6")]
    public void TryParse_WhenHostValid_GivesCanonicalForm(string input, string canonical, string kind)
    {
        Assert.That(HostName.TryParse(input, out var host), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(host!.Value, Is.EqualTo(canonical));
            Assert.That(host.Kind.ToString(), Is.EqualTo(kind));
            Assert.That(HostName.TryParse(host.Value, out var again) && again.Equals(host), Is.True, "canonical form is a fixed point");
        });
    }

    [TestCase("")]
    [TestCase(" example.com")]
    [TestCase("exa mple.com")]
    [TestCase("a..b")]
    [TestCase(".example.com")]
    [TestCase("example.com..")]
    [TestCase(".")]
    [TestCase("ex!ample.com")]
    [TestCase("user@example.com")]
    [TestCase("example.com:443")]
    [TestCase("exa%2Fmple.com")]
    [TestCase("exa%00mple.com")]
    [TestCase("::1")]
    [TestCase("[::1")]
    [TestCase("[::1%eth0]")]
    [TestCase("[::1%25eth0]")]
    [TestCase("[zz::1]")]
    [TestCase("[127.0.0.1]")]
    [TestCase("1.2.3.4.5")]
    [TestCase("256.0.0.1")]
    [TestCase("1.2.3.256")]
    [TestCase("4294967296")]
    [TestCase("0x100000000")]
    [TestCase("09.1.1.1")]
    [TestCase("1.2.3.08")]
    [TestCase("foo.09")]
    [TestCase("foo.0x4")]
    [TestCase("foo.1.2.3.4")]
    [TestCase("0999999999999999999")]
    [TestCase("xn--zz.com")]
    [TestCase("xn--.com")]
    [TestCase("xn--bcher-2pa.de")]
    [TestCase("a\u200Eb.com")]
    [TestCase("\uFFFD.com")]
    public void TryParse_WhenNotAHost_Fails(string input)
    {
        Assert.That(HostName.TryParse(input, out _), Is.False);
    }

    [Test]
    public void TryParse_WhenLabelOrNameTooLong_Fails()
    {
        Assert.Multiple(() =>
        {
            Assert.That(HostName.TryParse(new string('a', 63) + ".com", out _), Is.True);
            Assert.That(HostName.TryParse(new string('a', 64) + ".com", out _), Is.False);
            Assert.That(HostName.TryParse(string.Join('.', Enumerable.Repeat(new string('a', 49), 5)) + ".com", out _), Is.True);
            Assert.That(HostName.TryParse(string.Join('.', Enumerable.Repeat(new string('a', 50), 5)) + ".com", out _), Is.False);
        });
    }

    [TestCase("Example.COM", "example.com")]
    [TestCase("example.com.", "example.com")]
    [TestCase("0x7f.1", "127.0.0.1")]
    [TestCase("[2001:DB8::1]", "[2001:db8::1]")]
    public void WriteCanonical_FromRequestBytes_MatchesTryParse(string input, string canonical)
    {
        var bytes = Encoding.ASCII.GetBytes(input);
        var destination = new byte[HostName.MaxLength];
        Assert.Multiple(() =>
        {
            Assert.That(HostName.CanonicalLength(bytes), Is.EqualTo(canonical.Length));
            Assert.That(Encoding.ASCII.GetString(destination, 0, HostName.WriteCanonical(bytes, destination)), Is.EqualTo(canonical));
        });
    }

    [TestCase("example.com", true)]
    [TestCase("Example.COM.", true)]
    [TestCase("127.0.0.1", true)]
    [TestCase("[::1]", false)]
    [TestCase("bücher.de", false)]
    [TestCase("exa mple.com", false)]
    [TestCase(null, false)]
    public void IsPlainHostName_AcceptsAsciiDnsNamesAndIPv4Only(string? name, bool plain)
    {
        Assert.That(TargetBuilder.IsPlainHostName(name), Is.EqualTo(plain));
    }

    [TestCase("Example.COM.", "example.com")]
    [TestCase("2130706433", "127.0.0.1")]
    [TestCase("[::1]", null)]
    [TestCase("bad name", null)]
    public void CanonicalServerName_DropsTrailingDotAsEveryRouteDoes(string name, string? canonical)
    {
        Assert.That(TargetBuilder.CanonicalServerName(name), Is.EqualTo(canonical));
    }

    [TestCase("::1", "[::1]")]
    [TestCase("[::1]", "[::1]")]
    [TestCase("2001:DB8::1", "[2001:db8::1]")]
    [TestCase("Example.COM.", "example.com")]
    [TestCase("0x7f.1", "127.0.0.1")]
    public void NormalizeHost_GivesOneFormWithOrWithoutBrackets(string host, string canonical)
    {
        Assert.That(TargetBuilder.NormalizeHost(host), Is.EqualTo(canonical));
    }
}
