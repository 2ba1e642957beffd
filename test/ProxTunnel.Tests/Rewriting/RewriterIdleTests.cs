using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Tests.Rewriting;

/// <summary>
/// Issue 13.1: between requests, and while a head is still arriving, the rewriter holds no pooled buffer. The read
/// Kestrel waits on while a connection is idle is the rewriter itself, not an async frame: it must behave as the
/// source's read would (results, failures, cancellation) and cost nothing per wait once the connection has waited once.
/// </summary>
public sealed class RewriterIdleTests
{
    private const string Request = "GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
    private static readonly byte[] RequestBytes = Encoding.ASCII.GetBytes(Request);

    /// <summary>A busy connection keeps only its head buffer for the next head; once Kestrel is done with the
    /// connection nothing pooled is held.</summary>
    [TestCase(0)]
    [TestCase(10)]
    [TestCase(40)]
    public async Task AfterEachRequest_HoldsNoScratch_AndAtTheEndNoPooledBuffer(int cut)
    {
        var bytes = Encoding.ASCII.GetBytes(Request + Request);
        var cuts = cut == 0 ? Array.Empty<int>() : new[] { cut, Request.Length + cut };
        var settings = new RewriteSettings(new ProxyTunnelOptions { Prefix = "/p/" }, pages: null, NullLogger.Instance);
        using var rewriter = new RewritingPipeReader(settings, "idle");
        var responses = new Pipe();
        rewriter.Start(new ScriptedPipeReader(bytes, cuts), new ResponseSniffingWriter(responses.Writer), tunnel: null);
        for (var i = 0; i < 2; i++)
        {
            var head = await rewriter.ReadAsync();
            Assert.That(Encoding.ASCII.GetString(head.Buffer.ToArray()), Does.StartWith("GET /p/http://example.com/a "));
            rewriter.AdvanceTo(head.Buffer.End);
            Assert.That(rewriter.HoldsScratch, Is.False, $"after request {i + 1}");
        }

        rewriter.Complete();
        Assert.That(rewriter.HoldsPooledBuffers, Is.False);
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

        // The next head in pieces too: the first head's buffer is not held while its rest is awaited.
        await source.Writer.WriteAsync(bytes.AsMemory(0, 20));
        var second = rewriter.ReadAsync();
        Assert.That(second.IsCompleted, Is.False);
        Assert.That(rewriter.HoldsPooledBuffers, Is.False);
        await source.Writer.WriteAsync(bytes.AsMemory(20));
        head = await second;
        rewriter.AdvanceTo(head.Buffer.End);
    }

    [Test]
    public async Task WhileWaitingForTheNextHead_HoldsNoRequestStateNorHeadTables()
    {
        var source = new Pipe();
        using var rewriter = StartOn(source.Reader);
        await source.Writer.WriteAsync(RequestBytes);
        var head = await rewriter.ReadAsync();
        Assert.That(rewriter.HoldsRequestState, Is.True, "a head handed out is the request's");
        rewriter.AdvanceTo(head.Buffer.End);

        var next = rewriter.ReadAsync();
        Assert.That(next.IsCompleted, Is.False);
        Assert.Multiple(() =>
        {
            Assert.That(rewriter.HoldsRequestState, Is.False);
            Assert.That(rewriter.HoldsHeadTables, Is.False);
        });
        await source.Writer.WriteAsync(RequestBytes);
        head = await next;
        Assert.That(Encoding.ASCII.GetString(head.Buffer.ToArray()), Does.StartWith("GET /p/http://example.com/a "));
        rewriter.AdvanceTo(head.Buffer.End);
    }

    [Test]
    public async Task IdleWait_OnASourceWhoseReadIsATask_HandsOutTheHead()
    {
        var source = new TaskReadPipeReader();
        using var rewriter = StartOn(source);
        var next = rewriter.ReadAsync();
        Assert.That(next.IsCompleted, Is.False);
        source.Deliver(RequestBytes);
        var head = await next.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(Encoding.ASCII.GetString(head.Buffer.ToArray()), Does.StartWith("GET /p/http://example.com/a "));
    }

    [Test]
    public async Task IdleWaits_AfterTheFirst_AllocateNothing()
    {
        // Inline schedulers: the write below completes the pending read on this thread, so its allocations count here.
        // The pool hands its blocks out again: the shared pool allocates an owner per block, which is the pipe's cost.
        var source = new Pipe(new PipeOptions(new ReusingPool(), PipeScheduler.Inline, PipeScheduler.Inline, useSynchronizationContext: false));
        using var rewriter = StartOn(source.Reader);

        // Warm: the first waits also pay one-time costs (the cached continuation, the runtime's tiering of these methods).
        for (var i = 0; i < 100; i++)
        {
            await WaitThenServeAsync(rewriter, source.Writer);
        }

        const int Waits = 200;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Waits; i++)
        {
            await WaitThenServeAsync(rewriter, source.Writer);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        TestContext.Out.WriteLine($"{Waits} idle waits: {allocated} B");

        // Less than one byte per wait: no object per wait (the smallest is 24 B), whatever the runtime does once.
        Assert.That(allocated, Is.LessThan(Waits));
    }

    [Test]
    public async Task IdleWait_WhenTheSourceFails_ThrowsItsException()
    {
        var (source, rewriter, next) = StartIdle();
        using var _ = rewriter;
        await source.Writer.CompleteAsync(new IOException("reset"));
        var thrown = Assert.ThrowsAsync<IOException>(async () => await next);
        Assert.That(thrown!.Message, Is.EqualTo("reset"));
    }

    [Test]
    public async Task IdleWait_WhenCanceled_ReturnsACanceledResult()
    {
        var (source, rewriter, next) = StartIdle();
        using var _ = rewriter;
        rewriter.CancelPendingRead();
        var result = await next;
        Assert.That(result.IsCanceled, Is.True);

        // The connection goes on: the next head is handed out as usual.
        await source.Writer.WriteAsync(RequestBytes);
        var head = await rewriter.ReadAsync();
        Assert.That(Encoding.ASCII.GetString(head.Buffer.ToArray()), Does.StartWith("GET /p/http://example.com/a "));
    }

    [Test]
    public async Task IdleWait_WhenTheHeadArrivesInPieces_HandsOutTheWholeHead()
    {
        var source = new Pipe();
        using var rewriter = StartOn(source.Reader);
        var next = rewriter.ReadAsync();
        await source.Writer.WriteAsync(RequestBytes.AsMemory(0, 10));
        await source.Writer.WriteAsync(RequestBytes.AsMemory(10));
        var head = await next.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(Encoding.ASCII.GetString(head.Buffer.ToArray()), Does.StartWith("GET /p/http://example.com/a "));
    }

    /// <summary>A rewriter on a fresh source, its read already waiting for the first head.</summary>
    private static (Pipe Source, RewritingPipeReader Rewriter, ValueTask<ReadResult> Next) StartIdle()
    {
        var source = new Pipe();
        var rewriter = StartOn(source.Reader);
        var next = rewriter.ReadAsync();
        Assert.That(next.IsCompleted, Is.False);
        return (source, rewriter, next);
    }

    /// <summary>One request on an idle connection: the read waits, the head arrives, Kestrel takes it.</summary>
    private static async ValueTask WaitThenServeAsync(RewritingPipeReader rewriter, PipeWriter client)
    {
        var next = rewriter.ReadAsync();
        if (next.IsCompleted)
        {
            throw new InvalidOperationException("the read did not wait");
        }

        await client.WriteAsync(RequestBytes);
        var head = await next;
        rewriter.AdvanceTo(head.Buffer.End);
    }

    /// <summary>A source whose pending read is a task (not a value-task source): the rewriter's idle wait takes it as one.</summary>
    private sealed class TaskReadPipeReader : PipeReader
    {
        private readonly TaskCompletionSource<ReadResult> _read = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Deliver(byte[] bytes) => _read.SetResult(new ReadResult(new ReadOnlySequence<byte>(bytes), false, false));

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => new(_read.Task);

        public override bool TryRead(out ReadResult result)
        {
            result = default;
            return false;
        }

        public override void AdvanceTo(SequencePosition consumed)
        {
        }

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
        }

        public override void CancelPendingRead()
        {
        }

        public override void Complete(Exception? exception = null)
        {
        }
    }

    /// <summary>A pool that keeps the blocks given back and hands them out again, allocating nothing once warm.</summary>
    private sealed class ReusingPool : MemoryPool<byte>
    {
        private readonly Stack<Block> _free = new();

        public override int MaxBufferSize => 4096;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
            => _free.TryPop(out var block) ? block : new Block(this);

        protected override void Dispose(bool disposing)
        {
        }

        private sealed class Block(ReusingPool pool) : IMemoryOwner<byte>
        {
            public Memory<byte> Memory { get; } = new byte[4096];

            public void Dispose() => pool._free.Push(this);
        }
    }

    /// <summary>After a 101 the connection is the upgraded protocol's for good: it holds no request state for its life.</summary>
    [Test]
    public async Task AnUpgradedConnection_HoldsNoRequestState()
    {
        var source = new Pipe();
        var responses = new Pipe();
        var settings = new RewriteSettings(new ProxyTunnelOptions { Prefix = "/p/" }, pages: null, NullLogger.Instance);
        using var rewriter = new RewritingPipeReader(settings, "idle");
        rewriter.Start(source.Reader, new ResponseSniffingWriter(responses.Writer), tunnel: null);
        await source.Writer.WriteAsync(Encoding.ASCII.GetBytes("GET http://example.com/ws HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"));
        var head = await rewriter.ReadAsync();
        rewriter.AdvanceTo(head.Buffer.End);
        await rewriter.Sniffer.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"));

        await source.Writer.WriteAsync(new byte[] { 0x81, 0x00 });
        var frame = await rewriter.ReadAsync();
        Assert.Multiple(() =>
        {
            Assert.That(frame.Buffer.ToArray(), Is.EqualTo(new byte[] { 0x81, 0x00 }));
            Assert.That(rewriter.HoldsRequestState, Is.False);
        });
        rewriter.AdvanceTo(frame.Buffer.End);
    }

    private static RewritingPipeReader StartOn(PipeReader source)
    {
        var settings = new RewriteSettings(new ProxyTunnelOptions { Prefix = "/p/" }, pages: null, NullLogger.Instance);
        var rewriter = new RewritingPipeReader(settings, "idle");
        var responses = new Pipe();
        rewriter.Start(source, new ResponseSniffingWriter(responses.Writer), tunnel: null);
        return rewriter;
    }
}
