using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using ProxTunnel.Certificates;

namespace ProxTunnel.Tests.Certificates;

[TestFixture]
public sealed class TlsHandshakeTests
{
    [TestCase("example.com", CertificateKeyAlgorithm.EcdsaP256, CertificateKeyAlgorithm.EcdsaP256)]
    [TestCase("127.0.0.1", CertificateKeyAlgorithm.EcdsaP256, CertificateKeyAlgorithm.EcdsaP256)]
    [TestCase("example.com", CertificateKeyAlgorithm.Rsa2048, CertificateKeyAlgorithm.Rsa2048)]
    public async Task SslStream_WithCachedContext_CompletesHandshakeTrustingOnlyTheRoot(
        string host, CertificateKeyAlgorithm rootAlgorithm, CertificateKeyAlgorithm leafAlgorithm)
    {
        using var dir = new TestDirectory();
        using var ca = new ProxyCertificateAuthority(new CertificateAuthorityOptions
        {
            RootCertificatePath = dir.File("root.pem"),
            RootKeyAlgorithm = rootAlgorithm,
            LeafKeyAlgorithm = leafAlgorithm,
        });
        var context = ca.GetCertificateContext(host);

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        var connect = client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var serverSocket = await listener.AcceptTcpClientAsync();
        await connect;

        await using var server = new SslStream(serverSocket.GetStream());
        await using var tls = new SslStream(client.GetStream());
        SslPolicyErrors? seenErrors = null;
        var clientOptions = new SslClientAuthenticationOptions
        {
            TargetHost = host,
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                seenErrors = errors;
                if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0 || certificate is null)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca.RootCertificate);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
            },
        };

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var serverTask = server.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificateContext = context }, timeout.Token);
        await tls.AuthenticateAsClientAsync(clientOptions, timeout.Token);
        await serverTask;

        await tls.WriteAsync("ping"u8.ToArray(), timeout.Token);
        var buffer = new byte[4];
        await server.ReadExactlyAsync(buffer, timeout.Token);
        Assert.That(buffer, Is.EqualTo("ping"u8.ToArray()));
        Assert.That(tls.RemoteCertificate!.GetRawCertData(), Is.EqualTo(context.TargetCertificate.RawData));
        Assert.That(seenErrors & SslPolicyErrors.RemoteCertificateNameMismatch, Is.EqualTo(SslPolicyErrors.None));
    }
}
