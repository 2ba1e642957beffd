using System.IO.Pipelines;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Tests.Rewriting;

/// <summary>The rewriter's output depends only on the bytes, never on where the network split them.</summary>
public sealed class RewriterSplitTests
{
    private const string Stream =
        "GET http://Example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\nProxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n" +
        "POST https://example.com:8443/upload HTTP/1.1\r\nHost: example.com:8443\r\nContent-Length: 11\r\nProxy-Authorization: Basic eDp5\r\n\r\nhello world" +
        "\r\n" +
        "PUT http://[2001:db8::1]:80/chunk HTTP/1.1\r\nHost: [2001:db8::1]\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=\"q\"\r\nhello\r\n00000006\r\n world\r\n0\r\nX-Trailer: yes\r\nProxy-Authorization: Basic eDp5\r\n\r\n" +
        "GET /origin HTTP/1.0\r\n\r\n" +
        "GET http://last.example HTTP/1.1\r\nHost: last.example\r\n\r\n";

    private const string Expected =
        "GET /p/http://example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n" +
        "POST /p/https://example.com:8443/upload HTTP/1.1\r\nHost: example.com:8443\r\nContent-Length: 11\r\n\r\nhello world" +
        "PUT /p/http://[2001:db8::1]/chunk HTTP/1.1\r\nHost: [2001:db8::1]\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=\"q\"\r\nhello\r\n00000006\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n" +
        "GET /origin HTTP/1.0\r\n\r\n" +
        "GET /p/http://last.example/ HTTP/1.1\r\nHost: last.example\r\n\r\n";

    [Test]
    public async Task WholeStream_RewrittenAsExpected()
    {
        Assert.That(await RewriteAsync([]), Is.EqualTo(Expected));
    }

    [Test]
    public async Task SplitAtEveryPosition_SameOutput()
    {
        var length = Encoding.ASCII.GetByteCount(Stream);
        for (var cut = 1; cut < length; cut++)
        {
            Assert.That(await RewriteAsync([cut]), Is.EqualTo(Expected), $"split at {cut}");
        }
    }

    [Test]
    public async Task OneByteSegments_SameOutput()
    {
        var length = Encoding.ASCII.GetByteCount(Stream);
        Assert.That(await RewriteAsync([.. Enumerable.Range(1, length - 1)]), Is.EqualTo(Expected));
    }

    [Test]
    public async Task RandomSplits_SameOutput()
    {
        var random = new Random(1234);
        var length = Encoding.ASCII.GetByteCount(Stream);
        for (var round = 0; round < 200; round++)
        {
            var cuts = Enumerable.Range(0, random.Next(1, 12)).Select(_ => random.Next(1, length)).ToArray();
            Assert.That(await RewriteAsync(cuts), Is.EqualTo(Expected), $"cuts {string.Join(',', cuts)}");
        }
    }

    /// <summary>Reads the rewriter the way Kestrel does (everything handed is consumed) and returns what Kestrel would see.</summary>
    internal static async Task<string> RewriteAsync(int[] cuts, string input = Stream, string prefix = "/p/", string[]? proxyHosts = null)
    {
        var source = new ScriptedPipeReader(Encoding.Latin1.GetBytes(input), cuts);
        var options = new ProxyTunnelOptions { Prefix = prefix };
        foreach (var host in proxyHosts ?? [])
        {
            options.ProxyHosts.Add(host);
        }

        var settings = new RewriteSettings(options, pages: null, NullLogger.Instance);
        using var rewriter = new RewritingPipeReader(settings, "test");
        var responses = new Pipe();
        rewriter.Start(source, new ResponseSniffingWriter(responses.Writer), tunnel: null);
        var output = new StringBuilder();
        for (var i = 0; i < 100_000; i++)
        {
            var result = await rewriter.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                output.Append(Encoding.Latin1.GetString(segment.Span));
            }

            rewriter.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return output.ToString();
            }
        }

        throw new InvalidOperationException("rewriter did not finish");
    }
}
