using System.Globalization;
using Microsoft.AspNetCore.Http;
using ProxTunnel.Tests.Http2Clients.Differential;

namespace ProxTunnel.Tests.Http2Clients;

/// <summary>
/// The same seeded HTTP/2 request set, written frame by frame, once straight to Kestrel's UseHttps HTTP/2 listener and
/// once through a CONNECT+TLS tunnel into the same app: the app must see the same method, headers (names, values,
/// order), body and trailers, and targets that differ exactly by the rewrite. PROXTUNNEL_H2_DIFF_STREAMS sets the
/// number of streams (default 10 000), PROXTUNNEL_H2_DIFF_SEED the seed.
/// </summary>
public sealed class Http2DifferentialTests
{
    private const int DefaultStreams = 10_000;
    private const int DefaultSeed = 20261201;
    private const int BatchSize = 2_000;
    private const int InFlightPerConnection = 64;

    [Test]
    [CancelAfter(600_000)]
    public async Task GeneratedRequestSet_ThroughTunnel_AppSeesSameRequestsAsDirect(CancellationToken cancellationToken)
    {
        var streams = EnvironmentInt("PROXTUNNEL_H2_DIFF_STREAMS", DefaultStreams);
        var seed = EnvironmentInt("PROXTUNNEL_H2_DIFF_SEED", DefaultSeed);
        await using var host = await Http2Host.StartAsync();
        host.QuietResponses = true;
        await using var direct = await H2ClientConnection.OpenAsync(host.DirectPort, false, Http2Host.Host, host.ValidateWithRoot, InFlightPerConnection, cancellationToken);
        await using var tunnel = await H2ClientConnection.OpenAsync(host.ProxyPort, true, Http2Host.Host, host.ValidateWithRoot, InFlightPerConnection, cancellationToken);

        // Two generators and two encoders with the same seeds: both routes get the same requests, in the same order.
        using var directRequests = new RequestSetGenerator(seed).Generate(streams).GetEnumerator();
        using var tunnelRequests = new RequestSetGenerator(seed).Generate(streams).GetEnumerator();
        var directEncoder = new HpackWriter(seed);
        var tunnelEncoder = new HpackWriter(seed);
        var mismatches = new List<string>();
        var compared = 0;
        for (var sent = 0; sent < streams && mismatches.Count < 20; sent += BatchSize)
        {
            var count = Math.Min(BatchSize, streams - sent);
            var directStatuses = await SendBatchAsync(direct, directEncoder, directRequests, count, cancellationToken);
            var tunnelStatuses = await SendBatchAsync(tunnel, tunnelEncoder, tunnelRequests, count, cancellationToken);
            var records = Drain(host);
            compared += Compare(sent, directStatuses, tunnelStatuses, records, mismatches);
        }

        TestContext.Out.WriteLine($"seed {seed}: {compared} request pairs compared, {mismatches.Count} mismatches");
        Assert.That(mismatches, Is.Empty, $"seed {seed}; first mismatches");
        Assert.That(compared, Is.EqualTo(streams));
    }

    private static async Task<(GeneratedRequest Request, int Status)[]> SendBatchAsync(H2ClientConnection connection, HpackWriter encoder, IEnumerator<GeneratedRequest> requests, int count,
        CancellationToken cancellationToken)
    {
        var pending = new Task<(GeneratedRequest, int)>[count];
        for (var i = 0; i < count && requests.MoveNext(); i++)
        {
            var request = requests.Current;
            pending[i] = Task.Run(async () => (request, await connection.SendAsync(request, encoder, Http2Host.Host, cancellationToken)), cancellationToken);
        }

        return await Task.WhenAll(pending);
    }

    private static Dictionary<(bool Tunnel, int Index), RecordedRequest> Drain(Http2Host host)
    {
        var records = new Dictionary<(bool, int), RecordedRequest>();
        var tunnelPrefix = Http2Host.ExpectedTarget(true, "/d/");
        while (host.Requests.TryDequeue(out var record))
        {
            var tunnel = record.Target.StartsWith(tunnelPrefix, StringComparison.Ordinal);
            var rest = record.Target[(tunnel ? tunnelPrefix.Length : 3)..];
            var end = rest.IndexOfAny(['/', '?']);
            var index = int.Parse(end < 0 ? rest : rest[..end], CultureInfo.InvariantCulture);
            if (!records.TryAdd((tunnel, index), record))
            {
                throw new AssertionException($"request {index} reached the app twice ({(tunnel ? "tunnel" : "direct")})");
            }
        }

        return records;
    }

    private static int Compare(int first, (GeneratedRequest Request, int Status)[] directStatuses, (GeneratedRequest Request, int Status)[] tunnelStatuses, Dictionary<(bool, int), RecordedRequest> records, List<string> mismatches)
    {
        var compared = 0;
        for (var i = 0; i < directStatuses.Length && mismatches.Count < 20; i++)
        {
            var index = first + i;
            records.TryGetValue((false, index), out var direct);
            records.TryGetValue((true, index), out var tunnel);
            var problem = Difference(directStatuses[i].Status, tunnelStatuses[i].Status, direct, tunnel);
            if (problem is null)
            {
                compared++;
            }
            else
            {
                mismatches.Add($"request {index}: {problem}\n  sent {Describe(directStatuses[i].Request)}");
            }
        }

        return compared;
    }

    private static string? Difference(int directStatus, int tunnelStatus, RecordedRequest? direct, RecordedRequest? tunnel)
    {
        if (directStatus != StatusCodes.Status204NoContent || direct is null)
        {
            return $"the generator made a request Kestrel itself refuses (direct status {directStatus})";
        }

        if (tunnelStatus != directStatus || tunnel is null)
        {
            return $"status {tunnelStatus} through the tunnel, {directStatus} direct; reached the app: {tunnel is not null}";
        }

        var expectedTarget = Http2Host.ExpectedTarget(true, direct.Target);
        return (direct, tunnel) switch
        {
            _ when tunnel.Target != expectedTarget => $"target {tunnel.Target}, expected {expectedTarget}",
            _ when tunnel.Protocol != direct.Protocol => $"protocol {tunnel.Protocol} vs {direct.Protocol}",
            _ when tunnel.Method != direct.Method => $"method {tunnel.Method} vs {direct.Method}",
            _ when !tunnel.Headers.SequenceEqual(direct.Headers) => $"headers\n  tunnel {Show(tunnel.Headers)}\n  direct {Show(direct.Headers)}",
            _ when tunnel.BodyLength != direct.BodyLength || tunnel.BodySha256 != direct.BodySha256 => $"body {tunnel.BodyLength} B vs {direct.BodyLength} B",
            _ when !tunnel.Trailers.SequenceEqual(direct.Trailers) => $"trailers\n  tunnel {Show(tunnel.Trailers)}\n  direct {Show(direct.Trailers)}",
            _ when !tunnel.IsHttps => "IsHttps is false through the tunnel",
            _ => null,
        };
    }

    private static string Describe(GeneratedRequest request) =>
        $"{request.Method} {request.PathAndQuery} [{string.Join(" | ", request.Headers.Select(h => $"{h.Name}: {h.Value}"))}] body {request.Body?.Length.ToString(CultureInfo.InvariantCulture) ?? "none"}, " +
        $"trailers [{string.Join(" | ", (request.Trailers ?? []).Select(h => $"{h.Name}: {h.Value}"))}], size updates [{string.Join(",", request.TableSizeUpdates)}], " +
        $"{request.HeaderFragments} fragments, padding {request.Padding}, priority {request.Priority}, DATA chunk {request.DataChunk}";

    private static string Show(IEnumerable<KeyValuePair<string, string>> pairs) =>
        string.Join(" | ", pairs.Select(p => $"{p.Key}: {p.Value}"));

    private static int EnvironmentInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;
}
