using System.Diagnostics.Metrics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using ProxTunnel.Certificates;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Certificates;

/// <summary>
/// A tunnel to a never-seen host starts issuing its certificate when the CONNECT is accepted, so the issuance overlaps
/// the client's turn instead of waiting for its ClientHello; the handshake then uses that issuance, never a second one.
/// </summary>
[TestFixture]
public sealed class ConnectIssuanceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);
    private ServiceProvider _services = null!;
    private TestDirectory _dir = null!;
    private ProxyCertificateAuthority _authority = null!;
    private MeterListener _listener = null!;
    private TaskCompletionSource _firstIssued = null!;
    private string[] _sent = [];
    private int _chainLength = -1;

    [SetUp]
    public void SetUp()
    {
        // A meter of its own, so issuances of other tests cannot signal this one.
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = _services.GetRequiredService<IMeterFactory>();
        _dir = new TestDirectory();
        _authority = new ProxyCertificateAuthority(new CertificateAuthorityOptions { RootCertificatePath = _dir.File("root.pem") }, meterFactory: meters);
        _firstIssued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == meters && instrument.Name == "proxtunnel.certificates.issued")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, _, _, _) => _firstIssued.TrySetResult());
        _listener.Start();
    }

    [TearDown]
    public void TearDown()
    {
        _listener.Dispose();
        _authority.Dispose();
        _dir.Dispose();
        _services.Dispose();
    }

    [Test]
    public async Task Connect_ToANewHost_IssuesItsCertificateBeforeTheClientHelloAndOnlyOnce()
    {
        await using var app = await TestApp.StartAsync(t => { t.Prefix = "/p/"; t.CertificateAuthorityInstance = _authority; });
        await using var connection = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await connection.ConnectAsync("early.example:443")).Status, Is.EqualTo(200));

        // The client has sent nothing after its CONNECT: the certificate is issued anyway.
        await _firstIssued.Task.WaitAsync(Bound);
        var certificate = await HandshakeAsync(connection, "early.example");

        Assert.That(certificate.MatchesHostname("early.example"), Is.True);
        Assert.That(_authority.IssuedCount, Is.EqualTo(1));
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
    public async Task Connect_ToPort80ForPlainHttp_IssuesNothing()
    {
        await using var app = await TestApp.StartAsync(t => { t.Prefix = "/p/"; t.CertificateAuthorityInstance = _authority; });
        await using var connection = await RawHttpConnection.OpenAsync(app.Port);
        Assert.That((await connection.ConnectAsync("plain.example:80")).Status, Is.EqualTo(200));

        await connection.SendAsync("GET /x HTTP/1.1\r\nHost: plain.example\r\n\r\n");
        var response = await connection.ReadResponseAsync();

        Assert.That(response.Status, Is.EqualTo(200));
        Assert.That((string?)response.Json["target"], Is.EqualTo("/p/http://plain.example/x"));
        Assert.That(_authority.IssuedCount, Is.Zero);
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

    [Test]
    public async Task StartIssuing_ForACachedHost_ReturnsNothingToWaitFor()
    {
        _authority.GetCertificateContext("cached.example");

        Assert.That(_authority.StartIssuing("cached.example"), Is.Null);
        Assert.That(_authority.StartIssuing(null), Is.Null);
        var issuing = _authority.StartIssuing("fresh.example");
        Assert.That(issuing, Is.Not.Null);
        Assert.That(await issuing!.WaitAsync(Bound), Is.SameAs(await _authority.FindCertificateContextAsync("fresh.example", CancellationToken.None)));
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
