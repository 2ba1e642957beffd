using System.Net.Security;
using System.Text;
using ProxTunnel.Resolvers;

namespace ProxTunnel.Tests.Hardening;

/// <summary>Clients that vanish mid-way and code that throws: the failing connection ends, nothing else notices.</summary>
[NonParallelizable]
public sealed class FaultTests : HardeningFixture
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    /// <summary>The server still serves a fresh TLS tunnel and a plain proxied request.</summary>
    private static async Task AssertStillServingAsync(HardeningHost host, CancellationToken token)
    {
        await using (var c = await HardeningClient.OpenAsync(host.Port, token))
        {
            Assert.That((await c.ConnectAsync("example.com:443", token))?.Status, Is.EqualTo(200));
            await c.StartTlsAsync("example.com", host.Authority.RootCertificate, token);
            await c.SendAsync("GET /still HTTP/1.1\r\nHost: example.com\r\n\r\n", token);
            var response = await c.ReadResponseAsync(token);
            Assert.That(response?.Status, Is.EqualTo(200));
            Assert.That(response!.Text, Does.Contain("\"/p/https://example.com/still\""));
        }

        await using (var c = await HardeningClient.OpenAsync(host.Port, token))
        {
            await c.SendAsync("GET http://example.com/still-plain HTTP/1.1\r\nHost: example.com\r\n\r\n", token);
            Assert.That((await c.ReadResponseAsync(token))?.Status, Is.EqualTo(200));
        }
    }

    [Test]
    public async Task ServerUnharmed_WhenClientResetsAfterServerHello()
    {
        await using var host = await HardeningHost.StartAsync();
        using var cts = new CancellationTokenSource(Bound);
        for (var round = 0; round < 5; round++)
        {
            var c = await HardeningClient.OpenAsync(host.Port, cts.Token);
            Assert.That((await c.ConnectAsync("example.com:443", cts.Token))?.Status, Is.EqualTo(200));
            var ssl = new SslStream(new ResetAfterFirstReadStream(c), leaveInnerStreamOpen: true);
            Assert.CatchAsync(async () => await ssl.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions { TargetHost = "example.com", RemoteCertificateValidationCallback = (_, _, _, _) => true }, cts.Token));
            await c.DisposeAsync();
        }

        await AssertStillServingAsync(host, cts.Token);
    }

    [Test]
    public async Task ServerUnharmed_WhenClientResetsMidClientHello()
    {
        await using var host = await HardeningHost.StartAsync();
        using var cts = new CancellationTokenSource(Bound);
        await using (var c = await HardeningClient.OpenAsync(host.Port, cts.Token))
        {
            Assert.That((await c.ConnectAsync("example.com:443", cts.Token))?.Status, Is.EqualTo(200));
            // A TLS record header announcing 512 bytes, and only a few of them.
            await c.SendAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03 }, cts.Token);
            c.Reset();
        }

        await AssertStillServingAsync(host, cts.Token);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task ServerUnharmed_WhenClientResetsDuringRequestBody(bool tls)
    {
        await using var host = await HardeningHost.StartAsync();
        using var cts = new CancellationTokenSource(Bound);
        await using (var c = await HardeningClient.OpenAsync(host.Port, cts.Token))
        {
            Assert.That((await c.ConnectAsync(tls ? "example.com:443" : "example.com:80", cts.Token))?.Status, Is.EqualTo(200));
            if (tls)
            {
                await c.StartTlsAsync("example.com", host.Authority.RootCertificate, cts.Token);
            }

            await c.SendAsync("POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 1000000\r\n\r\n" + new string('x', 20_000), cts.Token);
            await c.SendAsync("POST /chunked HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n", cts.Token);
            c.Reset();
        }

        await AssertStillServingAsync(host, cts.Token);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task ServerUnharmed_WhenClientResetsDuringLargeResponse(bool tls)
    {
        await using var host = await HardeningHost.StartAsync();
        using var cts = new CancellationTokenSource(Bound);
        await using (var c = await HardeningClient.OpenAsync(host.Port, cts.Token))
        {
            Assert.That((await c.ConnectAsync(tls ? "example.com:443" : "example.com:80", cts.Token))?.Status, Is.EqualTo(200));
            if (tls)
            {
                await c.StartTlsAsync("example.com", host.Authority.RootCertificate, cts.Token);
            }

            await c.SendAsync("GET /big HTTP/1.1\r\nHost: example.com\r\n\r\n", cts.Token);
            var buffer = new byte[65536];
            long read = 0;
            for (var i = 0; i < 1000 && read < 256 * 1024; i++)
            {
                var n = await c.Stream.ReadAsync(buffer, cts.Token);
                Assert.That(n, Is.GreaterThan(0), "the large response is streaming");
                read += n;
            }

            Assert.That(Encoding.ASCII.GetString(buffer, 0, 12), Is.Not.Empty);
            c.Reset();
        }

        Assert.That(host.SeenTargets, Does.Contain(tls ? "/p/https://example.com/big" : "/p/http://example.com/big"));
        await AssertStillServingAsync(host, cts.Token);
    }

    /// <summary>Throws for one host, prefixes the others.</summary>
    private sealed class ThrowingResolver : IProxyPrefixResolver
    {
        public int Calls;

        public async ValueTask<ProxyPrefixResult> ResolveAsync(ProxyRequestContext request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);

            // Really asynchronous, as a resolver that looks credentials up is.
            await Task.Yield();
            if (request.Host == "boom.example")
            {
                throw new InvalidOperationException("resolver failed on purpose");
            }

            return ProxyPrefixResult.WithPrefix("/p/");
        }
    }

    [Test]
    public async Task Resolver500_ForItsFailingHostOnly_WhenResolverThrows()
    {
        var resolver = new ThrowingResolver();
        await using var host = await HardeningHost.StartAsync(t => t.PrefixResolver = resolver);
        using var cts = new CancellationTokenSource(Bound);

        await using (var c = await HardeningClient.OpenAsync(host.Port, cts.Token))
        {
            await c.SendAsync("GET http://boom.example/a HTTP/1.1\r\nHost: boom.example\r\n\r\nGET http://example.com/smuggled HTTP/1.1\r\nHost: example.com\r\n\r\n", cts.Token);
            Assert.That((await c.ReadResponseAsync(cts.Token))?.Status, Is.EqualTo(500));
            Assert.That(await c.ReadUntilClosedAsync(cts.Token), Is.Empty);
        }

        await using (var c = await HardeningClient.OpenAsync(host.Port, cts.Token))
        {
            // In a tunnel the resolver runs on CONNECT (and again on each request).
            var refused = await c.ConnectAsync("boom.example:80", cts.Token);
            Assert.That(refused?.Status, Is.EqualTo(500));
        }

        await using (var c = await HardeningClient.OpenAsync(host.Port, cts.Token))
        {
            await c.SendAsync("GET http://example.com/fine HTTP/1.1\r\nHost: example.com\r\n\r\n", cts.Token);
            var response = await c.ReadResponseAsync(cts.Token);
            Assert.That(response?.Status, Is.EqualTo(200));
            Assert.That(response!.Text, Does.Contain("\"/p/http://example.com/fine\""));
        }

        await AssertStillServingAsync(host, cts.Token);
        Assert.That(host.SeenTargets, Has.None.Contains("boom.example").And.None.Contains("smuggled"));
        Assert.That(resolver.Calls, Is.GreaterThanOrEqualTo(4));
    }

    [Test]
    public async Task App500_AndTunnelStillUsable_WhenAppThrows()
    {
        await using var host = await HardeningHost.StartAsync();
        using var cts = new CancellationTokenSource(Bound);
        await using (var c = await HardeningClient.OpenAsync(host.Port, cts.Token))
        {
            Assert.That((await c.ConnectAsync("example.com:80", cts.Token))?.Status, Is.EqualTo(200));
            await c.SendAsync("GET /throw HTTP/1.1\r\nHost: example.com\r\n\r\nGET /next HTTP/1.1\r\nHost: example.com\r\n\r\n", cts.Token);
            Assert.That((await c.ReadResponseAsync(cts.Token))?.Status, Is.EqualTo(500));
            var next = await c.ReadResponseAsync(cts.Token);
            Assert.That(next?.Status, Is.EqualTo(200), "the connection survives an app exception thrown before the response started");
            Assert.That(next!.Text, Does.Contain("\"/p/http://example.com/next\""));
        }

        await AssertStillServingAsync(host, cts.Token);
    }

    [Test]
    public async Task TlsHandshakeSucceeds_WhenCertificateCacheDirectoryCannotBeWritten()
    {
        await using var host = await HardeningHost.StartAsync(authorityOptions: (ca, directory) =>
        {
            var file = Path.Combine(directory, "not-a-directory");
            File.WriteAllText(file, "a regular file");
            ca.CertificateCacheDirectory = Path.Combine(file, "certs");
        });
        using var cts = new CancellationTokenSource(Bound);
        foreach (var name in new[] { "example.com", "other.example.com", "example.com" })
        {
            await using var c = await HardeningClient.OpenAsync(host.Port, cts.Token);
            Assert.That((await c.ConnectAsync(name + ":443", cts.Token))?.Status, Is.EqualTo(200));
            await c.StartTlsAsync(name, host.Authority.RootCertificate, cts.Token);
            await c.SendAsync($"GET /cached HTTP/1.1\r\nHost: {name}\r\n\r\n", cts.Token);
            var response = await c.ReadResponseAsync(cts.Token);
            Assert.That(response?.Status, Is.EqualTo(200));
            Assert.That(response!.Text, Does.Contain($"\"/p/https://{name}/cached\""));
        }
    }

    /// <summary>Waits for the server's first flight (ServerHello …), then resets the connection under the client.</summary>
    private sealed class ResetAfterFirstReadStream(HardeningClient client) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            // The server's first flight has arrived: the server now waits for the client's Finished, which never comes.
            _ = await client.Stream.ReadAsync(buffer, cancellationToken);
            client.Reset();
            throw new IOException("client reset the connection on purpose");
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            client.Stream.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            client.Stream.WriteAsync(buffer, offset, count, cancellationToken);

        public override Task FlushAsync(CancellationToken cancellationToken) => client.Stream.FlushAsync(cancellationToken);

        public override void Flush() => client.Stream.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
