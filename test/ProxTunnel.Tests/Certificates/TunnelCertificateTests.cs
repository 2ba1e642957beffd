using System.Diagnostics.Metrics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using ProxTunnel.Certificates;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Certificates;

/// <summary>
/// The certificate a tunnel's handshake presents: the SNI name's, else the CONNECT host's; issued once, sent as the leaf
/// alone, its chain ending at the root (each TLS context builds that chain against the root only). A CONNECT starts
/// the issuance before the client's hello.
/// </summary>
[TestFixture]
public sealed class TunnelCertificateTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);
    private TestDirectory _dir = null!;
    private ServiceProvider _services = null!;
    private MetricCollector<long> _issued = null!;
    private ProxyCertificateAuthority _authority = null!;
    private string[] _sent = [];
    private int _chainLength = -1;

    [SetUp]
    public void SetUp()
    {
        _dir = new TestDirectory();
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = _services.GetRequiredService<IMeterFactory>();
        _issued = new MetricCollector<long>(meters, "ProxTunnel", "proxtunnel.certificates.issued");
        _authority = new ProxyCertificateAuthority(new CertificateAuthorityOptions { RootCertificatePath = _dir.File("root.pem") }, meterFactory: meters);
    }

    [TearDown]
    public void TearDown()
    {
        _authority.Dispose();
        _issued.Dispose();
        _services.Dispose();
        _dir.Dispose();
    }

    [Test]
    public async Task Connect_ToANewHost_IssuesItsCertificateBeforeTheClientHello()
    {
        await using var app = await TestApp.StartAsync(t => { t.Prefix = "/p/"; t.CertificateAuthorityInstance = _authority; });
        await using var connection = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await connection.ConnectAsync("ahead.example:443")).Status, Is.EqualTo(200));

        // Not a byte of TLS sent yet: the CONNECT alone started it.
        await _issued.WaitForMeasurementsAsync(1, Bound);
        var certificate = await HandshakeAsync(connection, "ahead.example");

        Assert.That(certificate.MatchesHostname("ahead.example"), Is.True);
        Assert.That(_authority.IssuedCount, Is.EqualTo(1), "the handshake took the certificate made ahead");
    }

    [Test]
    public async Task Connect_ToPort80_IssuesNothing_AndItsPlainRequestsAreServed()
    {
        await using var app = await TestApp.StartAsync(t => { t.Prefix = "/p/"; t.CertificateAuthorityInstance = _authority; });
        await using var connection = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await connection.ConnectAsync("plain.example:80")).Status, Is.EqualTo(200));

        await connection.SendAsync("GET /x HTTP/1.1\r\nHost: plain.example\r\n\r\n");
        var response = await connection.ReadResponseAsync();

        Assert.That(response.Status, Is.EqualTo(200));
        Assert.That(_authority.IssuedCount, Is.Zero);
    }

    [Test]
    public async Task Handshakes_ToOneNewHostAtOnce_ShareOneIssuance()
    {
        const int Connections = 8;
        await using var app = await TestApp.StartAsync(t => { t.Prefix = "/p/"; t.CertificateAuthorityInstance = _authority; });
        var connections = await Task.WhenAll(Enumerable.Range(0, Connections).Select(_ => RawHttpConnection.OpenAsync(app.Port)));
        try
        {
            await Task.WhenAll(connections.Select(async c => Assert.That((await c.ConnectAsync("shared.example:443")).Status, Is.EqualTo(200))));
            var certificates = await Task.WhenAll(connections.Select(c => HandshakeAsync(c, "shared.example")));

            Assert.That(certificates.Select(c => c.Thumbprint).Distinct().Count(), Is.EqualTo(1));
            Assert.That(_authority.IssuedCount, Is.EqualTo(1));
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
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
