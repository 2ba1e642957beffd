using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using ProxTunnel.Certificates;
using ProxTunnel.Tests.Certificates;
using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Packaging;

/// <summary>The <c>ProxTunnel</c> meter comes from each app's <see cref="IMeterFactory"/>, so apps sharing a process
/// (test fixtures, several hosts) each see only their own counts.</summary>
public sealed class MeterFactoryTests
{
    private const string Meter = "ProxTunnel";

    [Test]
    public async Task TunnelAndRewriteCounters_WhenTwoAppsShareTheProcess_CountOnlyTheirOwnTraffic()
    {
        await using var first = await TestApp.StartAsync(t => t.Prefix = "/first/");
        await using var second = await TestApp.StartAsync(t => t.Prefix = "/second/");
        var firstFactory = first.Services.GetRequiredService<IMeterFactory>();
        var secondFactory = second.Services.GetRequiredService<IMeterFactory>();
        using var firstTunnels = new MetricCollector<long>(firstFactory, Meter, "proxtunnel.tunnels.opened");
        using var firstRewritten = new MetricCollector<long>(firstFactory, Meter, "proxtunnel.requests.rewritten");
        using var secondTunnels = new MetricCollector<long>(secondFactory, Meter, "proxtunnel.tunnels.opened");
        using var secondRewritten = new MetricCollector<long>(secondFactory, Meter, "proxtunnel.requests.rewritten");

        // First app: one CONNECT tunnel carrying one request. Second app: one absolute-form request, no tunnel.
        using (var client = first.CreateClient())
        {
            await client.GetStringAsync(new Uri("https://first.example/a"));
        }

        using (var client = second.CreateClient())
        {
            await client.GetStringAsync(new Uri("http://second.example/b"));
        }

        Assert.Multiple(() =>
        {
            Assert.That(Sum(firstTunnels), Is.EqualTo(1));
            Assert.That(Sum(firstRewritten), Is.EqualTo(1));
            Assert.That(Sum(secondTunnels), Is.Zero);
            Assert.That(Sum(secondRewritten), Is.EqualTo(1));
        });
    }

    [Test]
    public void CertificateCounters_WhenAuthorityHasAMeterFactory_ReportOnlyToThatFactory()
    {
        using var directory = new TestDirectory();
        using var ownServices = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var otherServices = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var own = ownServices.GetRequiredService<IMeterFactory>();
        using var ownIssued = new MetricCollector<long>(own, Meter, "proxtunnel.certificates.issued");
        using var ownHits = new MetricCollector<long>(own, Meter, "proxtunnel.certificates.cache_hits");
        using var otherIssued = new MetricCollector<long>(otherServices.GetRequiredService<IMeterFactory>(), Meter, "proxtunnel.certificates.issued");

        using var ca = new ProxyCertificateAuthority(
            new CertificateAuthorityOptions { RootCertificatePath = directory.File("ca.pem") }, meterFactory: own);
        ca.GetCertificateContext("metered.example");
        ca.GetCertificateContext("metered.example");

        Assert.Multiple(() =>
        {
            Assert.That(Sum(ownIssued), Is.EqualTo(1));
            Assert.That(Sum(ownHits), Is.EqualTo(1));
            Assert.That(Sum(otherIssued), Is.Zero);
        });
    }

    private static long Sum(MetricCollector<long> collector) => collector.GetMeasurementSnapshot().Sum(m => m.Value);
}
