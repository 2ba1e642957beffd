using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Tests.Rewriting;

/// <summary>Issue 13.1: between requests, and while a head is still arriving, the rewriter holds no pooled buffer.</summary>
public sealed class RewriterIdleTests
{
    private const string Request = "GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";

    [TestCase(0)]
    [TestCase(10)]
    [TestCase(40)]
    public async Task AfterEachRequest_HoldsNoPooledBuffer(int cut)
    {
        var bytes = Encoding.ASCII.GetBytes(Request + Request);
        var cuts = cut == 0 ? Array.Empty<int>() : new[] { cut, Request.Length + cut };
        var settings = new RewriteSettings(new ProxyTunnelOptions { Prefix = "/p/" }, pages: null, NullLogger.Instance);
        using var rewriter = new RewritingPipeReader(settings, "idle");
        var responses = new Pipe();
        rewriter.Start(new ScriptedPipeReader(bytes, cuts), responses.Writer, new ResponseSniffingWriter(responses.Writer), tunnel: null);
        for (var i = 0; i < 2; i++)
        {
            var head = await rewriter.ReadAsync();
            Assert.That(Encoding.ASCII.GetString(head.Buffer.ToArray()), Does.StartWith("GET /p/http://example.com/a "));
            rewriter.AdvanceTo(head.Buffer.End);
            Assert.That(rewriter.HoldsPooledBuffers, Is.False, $"after request {i + 1}");
        }
    }

    [Test]
    public async Task WhileAHeadArrivesInPieces_HoldsNoPooledBuffer()
    {
        var bytes = Encoding.ASCII.GetBytes(Request);
        var source = new Pipe();
        using var rewriter = StartOn(source.Reader);
        await source.Writer.WriteAsync(bytes.AsMemory(0, 20));
        var pending = rewriter.ReadAsync();
        await source.Writer.WriteAsync(bytes.AsMemory(20, 20));
        Assert.That(pending.IsCompleted, Is.False);
        Assert.That(rewriter.HoldsPooledBuffers, Is.False);
        await source.Writer.WriteAsync(bytes.AsMemory(40));
        var head = await pending;
        rewriter.AdvanceTo(head.Buffer.End);
        Assert.That(rewriter.HoldsPooledBuffers, Is.False);
    }

    [Test]
    public async Task WhileWaitingForTheNextHead_HoldsNoHeadTables()
    {
        var bytes = Encoding.ASCII.GetBytes(Request);
        var source = new Pipe();
        using var rewriter = StartOn(source.Reader);
        await source.Writer.WriteAsync(bytes);
        var head = await rewriter.ReadAsync();
        rewriter.AdvanceTo(head.Buffer.End);

        var next = rewriter.ReadAsync();
        Assert.That(next.IsCompleted, Is.False);
        Assert.That(rewriter.HoldsHeadTables, Is.False);
        await source.Writer.WriteAsync(bytes);
        head = await next;
        Assert.That(Encoding.ASCII.GetString(head.Buffer.ToArray()), Does.StartWith("GET /p/http://example.com/a "));
        rewriter.AdvanceTo(head.Buffer.End);
    }

    private static RewritingPipeReader StartOn(PipeReader source)
    {
        var settings = new RewriteSettings(new ProxyTunnelOptions { Prefix = "/p/" }, pages: null, NullLogger.Instance);
        var rewriter = new RewritingPipeReader(settings, "idle");
        var responses = new Pipe();
        rewriter.Start(source, responses.Writer, new ResponseSniffingWriter(responses.Writer), tunnel: null);
        return rewriter;
    }
}
