using System.Text.Json.Nodes;
using ProxTunnel.Http2;

namespace ProxTunnel.Tests.Http2Clients;

/// <summary>
/// Edge and hostile HTTP/2 frame sequences from Python's hyperframe/hpack over CONNECT+TLS (and, for the cases whose
/// outcome is the same, directly to Kestrel's UseHttps listener, which validates the script).
/// </summary>
public sealed class Http2FrameTests
{
    private const int ProtocolError = (int)Http2ErrorCode.ProtocolError;
    private const int FrameSizeError = (int)Http2ErrorCode.FrameSizeError;
    private const int CompressionError = (int)Http2ErrorCode.CompressionError;
    private const int EnhanceYourCalm = (int)Http2ErrorCode.EnhanceYourCalm;

    /// <summary>What Kestrel itself answers a CONTINUATION flood and an HPACK bomb with (the direct cases check the script).</summary>
    private const int KestrelProtocolError = ProtocolError;
    private Http2Host _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        if (!H2Frames.IsAvailable)
        {
            Assert.Ignore("python3-h2 is not installed (apt-get install python3-h2)");
        }

        _host = await Http2Host.StartAsync();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    private static string? Header(JsonNode echo, string name, string collection = "headers") =>
        echo[collection]!.AsArray().Where(p => (string?)p![0] == name).Select(p => (string?)p![1]).FirstOrDefault();

    /// <summary>Asserts each stream answered 200 with the echo of the expected target; returns the echoes.</summary>
    private static JsonNode[] AssertEchoes(JsonNode report, bool throughTunnel, params string[] pathsAndQueries)
    {
        var ids = H2Frames.Ids(report);
        Assert.That(ids, Has.Length.EqualTo(pathsAndQueries.Length));
        var echoes = ids.Select(id => H2Frames.Stream(report, id)).ToArray();
        Assert.Multiple(() =>
        {
            for (var i = 0; i < ids.Length; i++)
            {
                Assert.That((int?)echoes[i]["status"], Is.EqualTo(200), $"stream {ids[i]}");
                Assert.That((string?)echoes[i]["body"]?["target"], Is.EqualTo(Http2Host.ExpectedTarget(throughTunnel, pathsAndQueries[i])), $"stream {ids[i]}");
                Assert.That((string?)echoes[i]["body"]?["protocol"], Is.EqualTo("HTTP/2"), $"stream {ids[i]}");
            }
        });
        return echoes.Select(e => e["body"]!).ToArray();
    }

    /// <summary>Runs a scenario that must end the connection with GOAWAY(<paramref name="errorCode"/>) before its request reaches the app.</summary>
    private async Task AssertGoAwayAndAppUntouchedAsync(string scenario, bool throughTunnel, int errorCode, string marker)
    {
        var report = await H2Frames.RunAsync(_host, scenario, throughTunnel);
        Assert.Multiple(() =>
        {
            Assert.That((int?)report["goaway"]?["errorCode"], Is.EqualTo(errorCode), "GOAWAY error code");
            Assert.That((bool?)report["closed"], Is.True);
            Assert.That(_host.Requests.Select(r => r.Target).Where(t => t.Contains(marker, StringComparison.Ordinal)), Is.Empty, "requests the app saw");
        });
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task DynamicTable_ReusedAcrossRequests_EveryRequestDecodedAndRewritten(bool throughTunnel)
    {
        var report = await H2Frames.RunAsync(_host, "dynamic-table", throughTunnel);
        var echoes = AssertEchoes(report, throughTunnel, Enumerable.Range(0, 20).Select(i => $"/dt/{i}?q={i}").ToArray());
        Assert.Multiple(() =>
        {
            for (var i = 0; i < echoes.Length; i++)
            {
                Assert.That(Header(echoes[i], "x-repeat"), Is.EqualTo("same-value-every-time"));
                Assert.That(Header(echoes[i], "x-changing"), Is.EqualTo($"value-{i}"));
                Assert.That(Header(echoes[i], "Cookie"), Is.EqualTo("session=abc123"));
                Assert.That(Header(echoes[i], "User-Agent"), Is.EqualTo("h2-frames/1.0 (dynamic table)"));
            }
        });
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task HuffmanOnAndOff_DecodeToTheSameRequest(bool throughTunnel)
    {
        var report = await H2Frames.RunAsync(_host, "huffman", throughTunnel);
        var echoes = AssertEchoes(report, throughTunnel, "/huff/on?x=%7E", "/huff/off?x=%7E");
        Assert.That(echoes.Select(e => Header(e, "x-text")), Is.All.EqualTo("Huffman or not: the quick brown fox ~!@#$%^&*()"));
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task PaddedHeadersAndData_BodyArrivesIntact(bool throughTunnel)
    {
        var report = await H2Frames.RunAsync(_host, "padding", throughTunnel);
        var echo = AssertEchoes(report, throughTunnel, "/padded")[0];
        Assert.Multiple(() =>
        {
            Assert.That((long?)echo["bodyLength"], Is.EqualTo((long?)report["sentLength"]));
            Assert.That((string?)echo["bodySha256"], Is.EqualTo((string?)report["sentSha256"]));
        });
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task PriorityFlagsAndFrames_RequestsStillAnswered(bool throughTunnel)
    {
        var report = await H2Frames.RunAsync(_host, "priority", throughTunnel);
        AssertEchoes(report, throughTunnel, "/prio/1", "/prio/2");
        Assert.That(report["goaway"], Is.Null);
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task ContinuationSplits_AreReassembled(bool throughTunnel)
    {
        var report = await H2Frames.RunAsync(_host, "continuation", throughTunnel);
        var echoes = AssertEchoes(report, throughTunnel, "/cont/split", "/cont/tiny");
        Assert.Multiple(() =>
        {
            Assert.That(Header(echoes[0], "x-big"), Is.EqualTo(new string('b', 20000)));
            Assert.That(Header(echoes[0], "x-after"), Is.EqualTo("after-the-big-one"));
            Assert.That(Header(echoes[1], "x-small"), Is.EqualTo("s"));
        });
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task TableSizeUpdates_WithinAdvertisedSize_AreHonoured(bool throughTunnel)
    {
        var report = await H2Frames.RunAsync(_host, "table-size-valid", throughTunnel);
        var echoes = AssertEchoes(report, throughTunnel, "/ts/1", "/ts/2", "/ts/3", "/ts/4");
        Assert.That(echoes.Select(e => Header(e, "x-indexed")), Is.EqualTo(new[] { "first", "second", "third", "third" }));
    }

    [TestCase(true)]
    [TestCase(false)]
    public Task TableSizeUpdate_AboveAdvertisedSize_EndsWithGoAwayCompressionError(bool throughTunnel)
        => AssertGoAwayAndAppUntouchedAsync("table-size-too-big", throughTunnel, CompressionError, "/tsbig/");

    [TestCase(true)]
    [TestCase(false)]
    public async Task HundredConcurrentStreams_AreAllAnswered(bool throughTunnel)
    {
        var report = await H2Frames.RunAsync(_host, "concurrent", throughTunnel);
        var echoes = AssertEchoes(report, throughTunnel, Enumerable.Range(0, 100).Select(i => $"/conc/{i}").ToArray());
        Assert.That(echoes.Select(e => Header(e, "x-stream")), Is.EqualTo(Enumerable.Range(0, 100).Select(i => i.ToString())));
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task RstStream_CancelledUpload_ConnectionKeepsServing(bool throughTunnel)
    {
        var report = await H2Frames.RunAsync(_host, "rst-stream", throughTunnel);
        var ids = H2Frames.Ids(report);
        var after = H2Frames.Stream(report, ids[1]);
        Assert.Multiple(() =>
        {
            Assert.That((int?)after["status"], Is.EqualTo(200));
            Assert.That((string?)after["body"]?["target"], Is.EqualTo(Http2Host.ExpectedTarget(throughTunnel, "/rst/after")));
            Assert.That(report["goaway"], Is.Null);
        });
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task RequestTrailers_ReachTheApp(bool throughTunnel)
    {
        var report = await H2Frames.RunAsync(_host, "trailers", throughTunnel);
        var echo = AssertEchoes(report, throughTunnel, "/trailers")[0];
        Assert.Multiple(() =>
        {
            Assert.That((long?)echo["bodyLength"], Is.EqualTo(14));
            Assert.That(Header(echo, "x-checksum", "trailers"), Is.EqualTo("abc123"));
            Assert.That(Header(echo, "x-second", "trailers"), Is.EqualTo("two"));
        });
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task LargeBodies_BeyondFlowControlWindows_ArriveIntactBothWays(bool throughTunnel)
    {
        var report = await H2Frames.RunAsync(_host, "large-body", throughTunnel);
        var ids = H2Frames.Ids(report);
        var upload = H2Frames.Stream(report, ids[0]);
        var download = H2Frames.Stream(report, ids[1]);
        Assert.Multiple(() =>
        {
            Assert.That((string?)upload["body"]?["target"], Is.EqualTo(Http2Host.ExpectedTarget(throughTunnel, "/large/upload")));
            Assert.That((long?)upload["body"]?["bodyLength"], Is.EqualTo((long?)report["sentLength"]));
            Assert.That((string?)upload["body"]?["bodySha256"], Is.EqualTo((string?)report["sentSha256"]));
            Assert.That((int?)download["status"], Is.EqualTo(200));
            Assert.That((long?)download["bodyLength"], Is.EqualTo(Http2Host.BigResponseLength));
        });
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task ClientGoAway_InFlightRequestCompletesAndServerCloses(bool throughTunnel)
    {
        var report = await H2Frames.RunAsync(_host, "client-goaway", throughTunnel);
        AssertEchoes(report, throughTunnel, "/goaway/last");
        Assert.That((bool?)report["closed"], Is.True);
    }

    [TestCase(true, EnhanceYourCalm)]
    [TestCase(false, KestrelProtocolError)]
    public Task ContinuationFlood_EndsWithGoAwayAndNeverReachesApp(bool throughTunnel, int errorCode)
        => AssertGoAwayAndAppUntouchedAsync("continuation-flood", throughTunnel, errorCode, "/flood/");

    [TestCase(true, EnhanceYourCalm)]
    [TestCase(false, KestrelProtocolError)]
    public Task HpackBomb_EndsWithGoAwayAndNeverReachesApp(bool throughTunnel, int errorCode)
        => AssertGoAwayAndAppUntouchedAsync("hpack-bomb", throughTunnel, errorCode, "/bomb/");

    [TestCase(true)]
    [TestCase(false)]
    public Task HeadersFrameAboveMaxFrameSize_EndsWithGoAwayFrameSizeError(bool throughTunnel)
        => AssertGoAwayAndAppUntouchedAsync("oversize-frame", throughTunnel, FrameSizeError, "/oversize/");

    [TestCase(true)]
    [TestCase(false)]
    public Task HeaderBlockInterruptedByAnotherFrame_EndsWithGoAwayProtocolError(bool throughTunnel)
        => AssertGoAwayAndAppUntouchedAsync("interrupted-block", throughTunnel, ProtocolError, "/interrupted/");

    [TestCase(true)]
    [TestCase(false)]
    public Task HeaderBlockWithUnknownTableIndex_EndsWithGoAwayCompressionError(bool throughTunnel)
        => AssertGoAwayAndAppUntouchedAsync("bad-index", throughTunnel, CompressionError, "/badindex/");
}
