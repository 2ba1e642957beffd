using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using ProxTunnel.Certificates;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Certificates;

/// <summary>
/// The certificate a tunnel's handshake presents: the SNI name's, else the CONNECT host's; issued once, sent as the leaf
/// alone, its chain ending at the root (each TLS context builds that chain against the root only).
/// </summary>
[TestFixture]
public sealed class TunnelCertificateTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);
    private TestDirectory _dir = null!;
    private ProxyCertificateAuthority _authority = null!;
    private string[] _sent = [];
    private int _chainLength = -1;

    [SetUp]
    public void SetUp()
    {
        _dir = new TestDirectory();
        _authority = new ProxyCertificateAuthority(new CertificateAuthorityOptions { RootCertificatePath = _dir.File("root.pem") });
    }

    [TearDown]
    public void TearDown()
    {
        _authority.Dispose();
        _dir.Dispose();
    }

    [Test]
    public async Task Connect_WhenTheServerNameDiffers_ServesTheServerNamesCertificate()
    {
        await using var app = await TestApp.StartAsync(t => { t.Prefix = "/p/"; t.CertificateAuthorityInstance = _authority; });
        await using var connection = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await connection.ConnectAsync("connect-host.example:443")).Status, Is.EqualTo(200));

        var certificate = await HandshakeAsync(connection, "sni-host.example");

        Assert.That(certificate.MatchesHostname("sni-host.example"), Is.True);
        Assert.That(certificate.MatchesHostname("connect-host.example"), Is.False);
    }

    [Test]
    public async Task Connect_WithoutServerName_ServesTheConnectHostsCertificate()
    {
        await using var app = await TestApp.StartAsync(t => { t.Prefix = "/p/"; t.CertificateAuthorityInstance = _authority; });
        await using var connection = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await connection.ConnectAsync("no-sni.example:8443")).Status, Is.EqualTo(200));

        var certificate = await HandshakeAsync(connection, serverName: "");

        Assert.That(certificate.MatchesHostname("no-sni.example"), Is.True);
        Assert.That(_authority.IssuedCount, Is.EqualTo(1));
    }

    [Test]
    public async Task Handshake_SendsTheLeafAlone_WhoseChainEndsAtTheRoot()
    {
        await using var app = await TestApp.StartAsync(t => { t.Prefix = "/p/"; t.CertificateAuthorityInstance = _authority; });
        await using var connection = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await connection.ConnectAsync("leaf-only.example:443")).Status, Is.EqualTo(200));

        var certificate = await HandshakeAsync(connection, "leaf-only.example");

        // SslStream puts what the server sent (with OpenSSL, the leaf too) into the chain's extra store.
        Assert.That(_sent, Is.EqualTo(new[] { certificate.Thumbprint }));
        Assert.That(_chainLength, Is.EqualTo(2), "leaf, then the root");
        Assert.That(certificate.Issuer, Is.EqualTo(_authority.RootCertificate.Subject));
        Assert.That(_authority.GetCertificateContext("leaf-only.example").IntermediateCertificates, Is.Empty);
    }

    private async Task<X509Certificate2> HandshakeAsync(RawHttpConnection connection, string serverName)
    {
        var ssl = new SslStream(connection.Stream, leaveInnerStreamOpen: true);
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(_authority.RootCertificate);
        using var bound = new CancellationTokenSource(Bound);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            CertificateChainPolicy = policy,
            // The chain must hold; the name is what each test asserts.
            RemoteCertificateValidationCallback = (_, _, chain, errors) =>
            {
                _sent = chain?.ChainPolicy.ExtraStore.Select(c => c.Thumbprint).ToArray() ?? [];
                _chainLength = chain?.ChainElements.Count ?? -1;
                return (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None;
            },
        }, bound.Token);
        var certificate = new X509Certificate2(ssl.RemoteCertificate!);
        await ssl.DisposeAsync();
        return certificate;
    }
}
