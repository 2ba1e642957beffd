using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.ObjectPool;
using ProxTunnel.Connect;
using ProxTunnel.Diagnostics;
using ProxTunnel.ProxyHost;
using ProxTunnel.Resolvers;
using ProxTunnel.Tls;

namespace ProxTunnel.Rewriting;

/// <summary>
/// The input Kestrel reads on a proxied connection. At each request boundary it parses the client's head, and hands
/// Kestrel a rewritten copy (prefixed target, proxy headers removed); body bytes are slices of the client's own
/// buffers, cut exactly at the end of the body, so the next head is always parsed here first. Kestrel only reads the
/// next head once the previous response is complete, so the few responses the proxy writes itself (errors, 407,
/// the proxy host's pages) go straight to the transport then without racing Kestrel.
/// </summary>
internal sealed class RewritingPipeReader : PipeReader, IDuplexPipe, IValueTaskSource<ReadResult>, IDisposable
{
    private readonly RewriteSettings _settings;
    private readonly string _connectionId;
    private PipeReader _source = null!;
    private ResponseSniffingWriter _sniffer = null!;
    private TunnelTarget? _tunnel;
    private ResolverCall? _resolver;

    // What one request needs from its head's first byte to its body's end, rented from a pool for that time: a
    // connection waiting idle for its next head holds none of it (issue 13.1).
    private RequestState? _request;

    // The read Kestrel waits on while the connection is idle (issue 13.1): this reader is its source, completed from
    // one cached continuation on the source's pending read (_idleSourceRead), with no async frame. The result Kestrel
    // gets waits in the request state (as does the first head, prepared before Kestrel runs).
    private ManualResetValueTaskSourceCore<bool> _idleRead;
    private ValueTask<ReadResult> _idleSourceRead;
    private ExecutionContext? _idleContext;
    private Action? _onIdleSourceRead;

    private Mode _mode;
    private byte _tunnelHostKind;
    private bool _hasPrepared;
    private bool _hasBuffer;
    private bool _sourceCompleted;

    // Bytes of a head arrived, the rest not yet (the scan's progress is in the request state).
    private bool _awaitingHeadBytes;

    public RewritingPipeReader(RewriteSettings settings, string connectionId)
    {
        _settings = settings;
        _connectionId = connectionId;
    }

    private enum Mode : byte
    {
        Head,
        HeadHandedOut,
        ContentLengthBody,
        ChunkedBody,
        UpgradePending,
        Passthrough,
        Ended,
    }

    /// <summary>The CONNECT this reader stopped at (its head consumed), for the Connect stage; null otherwise.</summary>
    public ConnectRequest? PendingConnect { get; private set; }

    /// <summary>
    /// The innermost TLS layer terminated on this connection (each runs over <see cref="TlsLayer.Outer"/>), kept here
    /// for the middleware with <see cref="TunnelOpen"/>, so that the connection's one long-lived frame holds nothing
    /// else (issue 13.1).
    /// </summary>
    public TlsLayer? Tls { get; set; }

    /// <summary>True once a tunnel on this connection is counted open (until the connection ends).</summary>
    public bool TunnelOpen { get; set; }

    /// <summary>True when the proxy refused a request on this connection and answered it itself.</summary>
    public bool Refused { get; private set; }

    /// <summary>The writer Kestrel's responses go through, given to <see cref="Start"/>.</summary>
    public ResponseSniffingWriter Sniffer => _sniffer;

    /// <summary>This reader and <see cref="Sniffer"/>: the transport a Kestrel pass over this connection gets.</summary>
    PipeReader IDuplexPipe.Input => this;

    PipeWriter IDuplexPipe.Output => _sniffer;

    /// <summary>Where the proxy's own responses go: the transport under the sniffer.</summary>
    private PipeWriter Responses => _sniffer.Inner;

    /// <summary>Starts again where the last pass ended (same source, writer and tunnel), for the next Kestrel pass.</summary>
    public void Restart() => Start(_source, _sniffer, _tunnel);

    /// <summary>
    /// Starts rewriting <paramref name="source"/>; the proxy's own responses go to the sniffer's transport, and
    /// <paramref name="tunnel"/> is null on a plain proxy connection.
    /// </summary>
    public void Start(PipeReader source, ResponseSniffingWriter sniffer, TunnelTarget? tunnel)
    {
        _source = source;
        _sniffer = sniffer;
        _tunnel = tunnel;
        _tunnelHostKind = tunnel is null ? (byte)0 : (byte)_settings.ClassifyHost(tunnel.Host);
        _mode = Mode.Head;
        _hasBuffer = false;
        _sourceCompleted = false;
        PendingConnect = null;
        _hasPrepared = false;
        Refused = false;
    }

    public override bool TryRead(out ReadResult result)
    {
        // Kestrel's body readers use TryRead; heads always go through ReadAsync.
        if (_mode is Mode.ContentLengthBody or Mode.ChunkedBody && !_hasBuffer && BodyPending())
        {
            if (!_source.TryRead(out var sourceResult))
            {
                result = default;
                return false;
            }

            if (sourceResult.IsCanceled)
            {
                result = sourceResult;
                Request.Buffer = sourceResult.Buffer;
                _hasBuffer = true;
                return true;
            }

            Accept(sourceResult);
            if (Request.BodyError != RejectReason.None)
            {
                // A refused body fails from ReadAsync only, where Kestrel's body reader expects read errors.
                _source.AdvanceTo(Request.Buffer.Start);
                _hasBuffer = false;
                result = default;
                return false;
            }

            if (TrailersReady())
            {
                result = HandOutTrailers();
                return true;
            }

            result = HandOutBody();
            if (result.Buffer.IsEmpty && !result.IsCompleted)
            {
                // Nothing validated yet: let Kestrel fall back to ReadAsync.
                _source.AdvanceTo(Request.Buffer.Start, Request.Buffer.End);
                _hasBuffer = false;
                return false;
            }

            return true;
        }

        if (_mode == Mode.Passthrough)
        {
            return _source.TryRead(out result);
        }

        result = default;
        return false;
    }

    /// <summary>
    /// Reads and handles the first head before Kestrel runs, so a connection that opens with CONNECT never reaches
    /// Kestrel and the CONNECT is parsed by the same code as every other head. Afterwards <see cref="PendingConnect"/>
    /// is set for a CONNECT, <see cref="Refused"/> for a refusal, and a head for Kestrel waits for its first read.
    /// </summary>
    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        if (await ReadHeadAsync(cancellationToken) is { } first)
        {
            _idleRead.Reset();
            Request.IdleResult = first;
            _idleRead.SetResult(true);
            _hasPrepared = true;
        }
    }

    /// <summary>True when the input ended (client closed, refusal, CONNECT): Kestrel would get nothing from it.</summary>
    public bool IsEnded => _mode == Mode.Ended;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_hasPrepared)
        {
            _hasPrepared = false;
            return new(this, _idleRead.Version);
        }

        if (_mode == Mode.Passthrough)
        {
            return _source.ReadAsync(cancellationToken);
        }

        // A body Kestrel has read to its end: the next read is for a head (and may wait idle, below).
        if (_mode is Mode.ContentLengthBody or Mode.ChunkedBody && !BodyPending())
        {
            _mode = Mode.Head;
        }

        if (_mode == Mode.Head && !_hasBuffer && !_awaitingHeadBytes)
        {
            // The next head, when the source has it now (pipelined or already received): no async frame at all.
            var read = _source.ReadAsync(cancellationToken);
            if (!read.IsCompleted)
            {
                return WaitForHead(read, cancellationToken);
            }

            // A read that failed throws from here, as the source's own would.
            return read.IsCompletedSuccessfully ? HandleHeadRead(read.Result, cancellationToken) : read;
        }

        return ReadCoreAsync(cancellationToken);
    }

    /// <summary>Takes the source's read for the next head and hands out what Kestrel gets: synchronously in the common case.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // a frame of its own: inlined into ReadAsync, its temporaries were cleared on every read
    private ValueTask<ReadResult> HandleHeadRead(in ReadResult sourceResult, CancellationToken cancellationToken)
    {
        if (!AcceptHeadRead(sourceResult))
        {
            return new(new ReadResult(default, true, false));
        }

        return TryHandOutBufferedHead(out var handed, out var pending, cancellationToken)
            ? new(handed)
            : ContinueHeadAsync(pending, cancellationToken);
    }

    /// <summary>
    /// The connection is idle: nothing buffered, the source's read pending. Kestrel waits on this reader as the
    /// source of its read, so no async frame is suspended here, and the request state (with the head's line tables)
    /// goes back to its pool.
    /// </summary>
    private ValueTask<ReadResult> WaitForHead(ValueTask<ReadResult> sourceRead, CancellationToken cancellationToken)
    {
        _idleRead.Reset();
        if (cancellationToken.CanBeCanceled)
        {
            // Kestrel passes none; a caller that does keeps its token in the request state for the wait.
            Request.IdleCancellation = cancellationToken;
        }
        else
        {
            ReturnRequest();
        }

        // The head is handled (and a resolver called) in the connection's execution context, as an awaiting frame
        // would; captured here rather than by the source, which would keep an object for it per connection.
        _idleContext = ExecutionContext.Capture();
        _idleSourceRead = sourceRead;
        sourceRead.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onIdleSourceRead ??= OnIdleSourceRead);
        return new(this, _idleRead.Version);
    }

    private void OnIdleSourceRead()
    {
        var context = _idleContext;
        _idleContext = null;
        if (context is null)
        {
            HandleIdleSourceRead();
        }
        else
        {
            ExecutionContext.Run(context, static reader => ((RewritingPipeReader)reader!).HandleIdleSourceRead(), this);
        }
    }

    private void HandleIdleSourceRead()
    {
        var sourceRead = _idleSourceRead;
        _idleSourceRead = default;
        CancellationToken cancellationToken = default;
        if (_request is { } request)
        {
            cancellationToken = request.IdleCancellation;
            request.IdleCancellation = default;
        }

        ValueTask<ReadResult> handed;
        try
        {
            handed = HandleHeadRead(sourceRead.Result, cancellationToken);
        }
#pragma warning disable CA1031 // Whatever the read or the head throws is Kestrel's to see, from its read.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _idleRead.SetException(ex);
            return;
        }

        if (handed.IsCompletedSuccessfully)
        {
            Request.IdleResult = handed.Result;
            _idleRead.SetResult(true);
        }
        else
        {
            // A head in pieces, a page or the resolver: rare, so this path may allocate.
            _ = CompleteIdleReadAsync(handed);
        }
    }

    private async Task CompleteIdleReadAsync(ValueTask<ReadResult> handed)
    {
        ReadResult result;
        try
        {
            result = await handed.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // As above: Kestrel sees it from its read.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _idleRead.SetException(ex);
            return;
        }

        Request.IdleResult = result;
        _idleRead.SetResult(true);
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token)
    {
        _idleRead.GetResult(token);
        var request = Request;
        var result = request.IdleResult;
        request.IdleResult = default;
        return result;
    }

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _idleRead.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _idleRead.OnCompleted(continuation, state, token, flags);

    /// <summary>A head that needs more than the synchronous path: its result, or the next read when a page was served.</summary>
    private async ValueTask<ReadResult> ContinueHeadAsync(ValueTask<ReadResult?> pending, CancellationToken cancellationToken)
        => await pending ?? await ReadCoreAsync(cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> ReadCoreAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            switch (_mode)
            {
                case Mode.Ended:
                    return new ReadResult(default, isCanceled: false, isCompleted: true);
                case Mode.Passthrough:
                    return await _source.ReadAsync(cancellationToken);
                case Mode.HeadHandedOut:
                    // Kestrel examined the whole head without consuming it, which a complete head never causes:
                    // let it see the end of input instead of waiting forever.
                    return new ReadResult(new ReadOnlySequence<byte>(Request.HeadOut!, Request.HeadOutConsumed, Request.HeadOutLength - Request.HeadOutConsumed), false, true);
                case Mode.UpgradePending:
                    _mode = _sniffer.SawSwitchingProtocols ? Mode.Passthrough : Mode.Head;
                    if (_mode == Mode.Passthrough)
                    {
                        // No head comes again: an upgraded connection (a WebSocket) holds no request state for its life.
                        ReturnRequest();
                    }

                    continue;
                case Mode.ContentLengthBody:
                case Mode.ChunkedBody:
                    if (!BodyPending())
                    {
                        _mode = Mode.Head;
                        continue;
                    }

                    if (!_hasBuffer)
                    {
                        var sourceResult = await _source.ReadAsync(cancellationToken);
                        if (sourceResult.IsCanceled)
                        {
                            Request.Buffer = sourceResult.Buffer;
                            _hasBuffer = true;
                            Request.Handed = 0;
                            return new ReadResult(sourceResult.Buffer.Slice(0, 0), true, false);
                        }

                        Accept(sourceResult);
                    }

                    if (TrailersReady())
                    {
                        return HandOutTrailers();
                    }

                    var body = HandOutBody();
                    if (body.Buffer.IsEmpty && !body.IsCompleted)
                    {
                        _source.AdvanceTo(Request.Buffer.Start, Request.Buffer.End);
                        _hasBuffer = false;
                        continue;
                    }

                    return body;
                default:
                    if (!_hasBuffer && !_awaitingHeadBytes)
                    {
                        // The next head after a body or a page the proxy answered (an idle wait from ReadAsync takes
                        // WaitForHead instead): a connection that goes idle gives its request state back, one kept
                        // busy keeps it (issue 13.1).
                        var pending = _source.ReadAsync(cancellationToken);
                        if (!pending.IsCompleted)
                        {
                            ReturnRequest();
                        }

                        if (!AcceptHeadRead(await pending))
                        {
                            return new ReadResult(default, true, false);
                        }

                        if (TryHandOutBufferedHead(out var handedNow, out var finishing, cancellationToken))
                        {
                            return handedNow;
                        }

                        if (await finishing is { } finished)
                        {
                            return finished;
                        }

                        continue;
                    }

                    if (await ReadHeadAsync(cancellationToken) is { } handed)
                    {
                        return handed;
                    }

                    continue;
            }
        }
    }

    /// <summary>Takes a source read for a head; false (nothing taken) when the read was canceled.</summary>
    private bool AcceptHeadRead(in ReadResult sourceResult)
    {
        if (sourceResult.IsCanceled)
        {
            _source.AdvanceTo(sourceResult.Buffer.Start, sourceResult.Buffer.Start);
            return false;
        }

        Request.Buffer = sourceResult.Buffer;
        _sourceCompleted = sourceResult.IsCompleted;
        _hasBuffer = true;
        return true;
    }

    private bool BodyPending() => _mode == Mode.ContentLengthBody ? Request.BodyRemaining > 0 : !Chunked.IsDone || ChunkedState.Validated > 0;

    private void Accept(in ReadResult sourceResult)
    {
        var request = Request;
        request.Buffer = sourceResult.Buffer;
        _sourceCompleted = sourceResult.IsCompleted;
        _hasBuffer = true;
        if (_mode == Mode.ChunkedBody && request.BodyError == RejectReason.None && !Chunked.IsDone && ChunkedState.Validated < request.Buffer.Length)
        {
            ChunkedState.Validated += Chunked.Accept(request.Buffer.Slice(ChunkedState.Validated), out request.BodyError);
            if (request.BodyError != RejectReason.None)
            {
                _settings.Metrics.BadRequests.Add(1);
                ProxyTunnelLog.BodyRejected(_settings.Logger, _connectionId, request.BodyError);
            }
        }
    }

    /// <summary>The body bytes Kestrel may have now: never past the end of the body or past a refused byte.</summary>
    private ReadResult HandOutBody()
    {
        var request = Request;
        var available = _mode == Mode.ContentLengthBody ? Math.Min(request.Buffer.Length, request.BodyRemaining) : Math.Min(ChunkedState.Validated, ChunkedLimit());
        request.Handed = available;
        if (request.BodyError != RejectReason.None && (available == 0 || request.BodyStalled))
        {
            FailBody();
        }

        // A client that stops mid-body ends Kestrel's input after the last good byte: Kestrel then aborts the request.
        // A refused byte takes precedence: the read after the good bytes fails the body.
        var ended = request.BodyError == RejectReason.None && _sourceCompleted
            && (_mode == Mode.ChunkedBody ? !Chunked.IsDone : available == request.Buffer.Length);
        if (ended)
        {
            _mode = Mode.Ended;
        }

        return new ReadResult(request.Buffer.Slice(0, available), false, ended);
    }

    /// <summary>
    /// Kestrel has every good byte of a chunked body whose next byte the validator refused. Ending Kestrel's input here
    /// would make it abort the connection (a reset, SPEC §3.7 forbids); a <see cref="BadHttpRequestException"/> from the
    /// read instead reaches the request body's reader, and Kestrel answers it as its own bad body: <c>400</c> (when
    /// no response has started) with <c>Connection: close</c>. The rest of the input is dropped, and the middleware
    /// lingers after Kestrel closes, so the client reads the 400 before the connection ends.
    /// </summary>
    [DoesNotReturn]
    private void FailBody()
    {
        var reason = Request.BodyError;
        _source.AdvanceTo(Request.Buffer.End);
        _hasBuffer = false;
        _mode = Mode.Ended;
        Refused = true;
        throw new BadHttpRequestException("Bad chunked request body: " + reason, reason.ToStatusCode());
    }

    /// <summary>
    /// How far into the chunked body Kestrel may read now: the trailer section is held back until it is complete,
    /// and then, when it has lines to remove, handed out rewritten by <see cref="HandOutTrailers"/>.
    /// </summary>
    private long ChunkedLimit()
    {
        var trailerStart = Chunked.TrailerStart;
        return trailerStart < 0 || (Chunked.IsDone && Chunked.RemovedTrailers is null) ? long.MaxValue : trailerStart - ChunkedState.Consumed;
    }

    private bool TrailersReady() => _mode == Mode.ChunkedBody && Chunked.IsDone && Chunked.RemovedTrailers is not null
        && ChunkedState.Consumed == Chunked.TrailerStart && Request.BodyError == RejectReason.None;

    /// <summary>Hands Kestrel the trailer section without the removed lines, through the same path as a rewritten head.</summary>
    private ReadResult HandOutTrailers()
    {
        var request = Request;
        var start = Chunked.TrailerStart;
        var length = (int)(Chunked.Position - start);
        var output = HeadOutput(request, length);
        var source = request.Buffer.Slice(0, length);
        var written = 0;
        long from = 0;
        foreach (var (lineStart, lineEnd) in Chunked.RemovedTrailers!)
        {
            source.Slice(from, lineStart - start - from).CopyTo(output.AsSpan(written));
            written += (int)(lineStart - start - from);
            from = lineEnd - start;
        }

        source.Slice(from).CopyTo(output.AsSpan(written));
        written += (int)(length - from);

        request.HeadOutLength = written;
        request.HeadOutConsumed = 0;
        request.SourceHeadLength = length;
        request.AfterHead = Mode.Head;
        _mode = Mode.HeadHandedOut;
        return new ReadResult(new ReadOnlySequence<byte>(output, 0, written), false, false);
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        switch (_mode)
        {
            case Mode.HeadHandedOut:
                AdvanceHead(consumed);
                return;
            case Mode.ContentLengthBody:
            case Mode.ChunkedBody:
            {
                if (!_hasBuffer)
                {
                    return;
                }

                var request = Request;
                var start = request.Buffer.Start;
                var consumedBytes = request.Buffer.Slice(start, consumed).Length;
                var examinedBytes = request.Buffer.Slice(start, examined).Length;
                if (_mode == Mode.ContentLengthBody)
                {
                    request.BodyRemaining -= consumedBytes;
                }
                else
                {
                    ChunkedState.Validated -= consumedBytes;
                    ChunkedState.Consumed += consumedBytes;
                }

                request.BodyStalled = request.BodyError != RejectReason.None && examinedBytes == request.Handed;

                // Kestrel saw all it was given and wants more, but the rest of the buffer is not yet body it may have
                // (an unfinished chunk line): wait for new bytes rather than spin on the same ones. A complete trailer
                // section held back is handed out on the next read instead.
                if (examinedBytes == request.Handed && request.Handed < request.Buffer.Length && BodyPending() && request.BodyError == RejectReason.None
                    && !(_mode == Mode.ChunkedBody && Chunked.IsDone))
                {
                    examined = request.Buffer.End;
                }

                _source.AdvanceTo(consumed, examined);
                _hasBuffer = false;
                return;
            }

            case Mode.Ended:
                return;
            default:
                _source.AdvanceTo(consumed, examined);
                _hasBuffer = false;
                return;
        }
    }

    private void AdvanceHead(SequencePosition consumed)
    {
        var request = Request;
        var offset = ReferenceEquals(consumed.GetObject(), request.HeadOut) ? consumed.GetInteger() : request.HeadOutConsumed;
        if (offset < request.HeadOutLength)
        {
            request.HeadOutConsumed = offset;
            return;
        }

        // The buffer stays with the request state for the next head on this connection (the state's Clear gives it
        // back when the connection goes idle).
        request.HeadOutLength = 0;
        _source.AdvanceTo(request.Buffer.GetPosition(request.SourceHeadLength));
        _hasBuffer = false;
        _mode = request.AfterHead;
        if (_mode == Mode.UpgradePending)
        {
            _sniffer.Arm();
        }
        else if (request.HoldResponse)
        {
            request.HoldResponse = false;
            _sniffer.HoldHttp10Response();
        }
    }

    /// <summary>Reads and handles one head. Returns what Kestrel gets, or null when the loop should go on (a page the proxy answered).</summary>
    private async ValueTask<ReadResult?> ReadHeadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (!_hasBuffer)
            {
                ReadResult sourceResult;
                var partial = _awaitingHeadBytes;
                try
                {
                    sourceResult = partial ? await ReadWithHeadTimeoutAsync(cancellationToken) : await _source.ReadAsync(cancellationToken);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    await RejectAsync(RejectReason.RequestHeadersTimeout);
                    return new ReadResult(default, false, true);
                }

                if (!AcceptHeadRead(sourceResult))
                {
                    return new ReadResult(default, true, false);
                }
            }

            var step = ScanHead(out var headLength, out var skip, out var reason, out var head);
            switch (step)
            {
                case HeadStep.NeedMore:
                    continue;
                case HeadStep.EndOfInput:
                    return new ReadResult(default, false, true);
                case HeadStep.Refuse:
                    await RejectAsync(reason);
                    return new ReadResult(default, false, true);
            }

            return await FinishHeadAsync(DecideHead(headLength, skip, head), cancellationToken);
        }
    }

    /// <summary>
    /// The head in the buffer taken from the source: the whole of it was handed out synchronously (true), or
    /// <paramref name="pending"/> finishes the work (the head is not complete yet, or needs a response or the resolver).
    /// The common case (a whole head in one read) thus needs no async frame at all.
    /// </summary>
    private bool TryHandOutBufferedHead(out ReadResult result, out ValueTask<ReadResult?> pending, CancellationToken cancellationToken)
    {
        var step = ScanHead(out var headLength, out var skip, out var reason, out var head);
        if (step == HeadStep.Complete)
        {
            var decision = DecideHead(headLength, skip, head);
            if (decision.Action == HeadAction.HandOut)
            {
                ReleaseScratch();
                result = HandedResult(decision);
                pending = default;
                return true;
            }

            pending = FinishHeadAsync(decision, cancellationToken);
        }
        else
        {
            pending = ContinueHead(step, reason, cancellationToken);
        }

        result = default;
        return false;
    }

    /// <summary>What becomes of a head <see cref="ScanHead"/> did not find whole. Not inlined: its tasks would be stack
    /// slots cleared on every call of the common path.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<ReadResult?> ContinueHead(HeadStep step, RejectReason reason, CancellationToken cancellationToken) => step switch
    {
        HeadStep.NeedMore => ReadHeadAsync(cancellationToken),
        HeadStep.EndOfInput => new(new ReadResult(default, false, true)),
        _ => RefuseHeadAsync(reason),
    };

    private async ValueTask<ReadResult?> RefuseHeadAsync(RejectReason reason)
    {
        await RejectAsync(reason);
        return new ReadResult(default, false, true);
    }

    private enum HeadStep
    {
        Complete,
        NeedMore,
        EndOfInput,
        Refuse,
    }

    /// <summary>Looks for the end of the head in the buffer; on <see cref="HeadStep.NeedMore"/> the buffer is given back.
    /// On <see cref="HeadStep.Complete"/>, <paramref name="head"/> holds the head's bytes in one piece.</summary>
    private HeadStep ScanHead(out int headLength, out int skip, out RejectReason reason, out ReadOnlyMemory<byte> head)
    {
        var request = Request;
        reason = RejectReason.None;
        headLength = 0;
        head = default;

        // The first segment once: nearly every head is all in it, and each look at a sequence's segment costs a call.
        var first = request.Buffer.First;
        var span = first.Span;
        var single = request.Buffer.IsSingleSegment;
        skip = span.Length > 0 && span[0] != HttpChars.CR ? 0 : RequestHeadParser.LeadingEmptyLines(request.Buffer);
        if (single ? span.Length == skip : IsEmptyFrom(skip))
        {
            if (_sourceCompleted)
            {
                _mode = Mode.Ended;
                return HeadStep.EndOfInput;
            }

            _source.AdvanceTo(request.Buffer.Start, request.Buffer.End);
            _hasBuffer = false;
            ReleaseBuffers();
            return HeadStep.NeedMore;
        }

        span = single ? span[skip..] : LinearizeFrom(skip);
        headLength = RequestHeadParser.FindHeadEnd(span, ref request.Scanned, ref request.RequestLineEnd,
            _settings.MaxRequestLineSize, _settings.MaxRequestHeadersTotalSize, out reason, request.Head);
        if (headLength > 0)
        {
            head = single ? first.Slice(skip, headLength) : LinearizeMemoryFrom(skip, headLength);
            return HeadStep.Complete;
        }

        if (headLength < 0)
        {
            return HeadStep.Refuse;
        }

        if (_sourceCompleted)
        {
            // The client closed in the middle of a head: nothing to answer.
            _mode = Mode.Ended;
            return HeadStep.EndOfInput;
        }

        if (span.Length > _settings.MaxRequestLineSize + _settings.MaxRequestHeadersTotalSize)
        {
            reason = RejectReason.HeadersTooLarge;
            return HeadStep.Refuse;
        }

        _source.AdvanceTo(request.Buffer.Start, request.Buffer.End);
        _hasBuffer = false;

        // Waiting for the rest of a head: hold no pooled copy of its start meanwhile (the next read copies again), nor
        // the last head's buffer.
        ReleaseBuffers();
        if (!_awaitingHeadBytes)
        {
            ArmHeadTimeout();
            _awaitingHeadBytes = true;
        }

        return HeadStep.NeedMore;
    }

    /// <summary>Parses the complete head found by <see cref="ScanHead"/> and decides what becomes of it.</summary>
    private HeadDecision DecideHead(int headLength, int skip, ReadOnlyMemory<byte> headMemory)
    {
        var request = Request;
        var requestLineEnd = request.RequestLineEnd;
        _awaitingHeadBytes = false;
        request.Scanned = 0;
        request.RequestLineEnd = 0;
        if (request.HeadTimeout is not null)
        {
            // Only heads that arrive in pieces arm it: drop its timer rather than keep it for the connection's life.
            request.HeadTimeout.Dispose();
            request.HeadTimeout = null;
        }

        var head = headMemory.Span;
        var parseReason = RequestHeadParser.Parse(head, requestLineEnd, request.Head);
        if (parseReason != RejectReason.None)
        {
            return HeadDecision.Refuse(parseReason);
        }

        request.SourceHeadLength = skip + headLength;
        return HandleHead(headMemory, head);
    }

    /// <summary>Finishes a decided head: awaits the resolver, serves a page or refuses; null when the loop goes on.</summary>
    private async ValueTask<ReadResult?> FinishHeadAsync(HeadDecision decision, CancellationToken cancellationToken)
    {
        if (decision.Action == HeadAction.Resolve)
        {
            decision = await ResolveAsync(decision.Bytes, cancellationToken);
        }

        // The head has been copied out (or refused): an idle connection holds no pooled head buffer (issue 13.1).
        ReleaseScratch();
        switch (decision.Action)
        {
            case HeadAction.HandOut:
                return HandedResult(decision);
            case HeadAction.ServePage:
                _source.AdvanceTo(Request.Buffer.GetPosition(Request.SourceHeadLength));
                _hasBuffer = false;
                await Responses.WriteAsync(decision.Bytes, cancellationToken);
                if (decision.Close)
                {
                    // The body of a request to our own pages is not worth framing: end the connection instead.
                    _mode = Mode.Ended;
                    return new ReadResult(default, false, true);
                }

                return null;
            default:
                await RejectAsync(decision.Reason, decision.Realm);
                return new ReadResult(default, false, true);
        }
    }

    private enum HeadAction
    {
        HandOut,
        ServePage,
        Reject,

        /// <summary>The resolver decides: await it, then hand out or refuse.</summary>
        Resolve,
    }

    /// <summary>What becomes of a head. Kept small (it is copied on the hot path): a head handed out is the one just
    /// written (<see cref="HandedResult"/>), or with <see cref="Close"/> the end of the input (CONNECT);
    /// <see cref="Bytes"/> is the page to serve (<see cref="Close"/>: then end the connection) or the head to resolve.</summary>
    private readonly record struct HeadDecision(HeadAction Action, RejectReason Reason = RejectReason.None, string? Realm = null,
        ReadOnlyMemory<byte> Bytes = default, bool Close = false)
    {
        public static HeadDecision Handed(bool ended = false) => new(HeadAction.HandOut, Close: ended);

        public static HeadDecision Refuse(RejectReason reason, string? realm = null) => new(HeadAction.Reject, reason, realm);
    }

    /// <summary>Starts the clock for a head whose first bytes arrived: the whole head must follow within the timeout,
    /// however the client paces it (Slowloris).</summary>
    private void ArmHeadTimeout()
    {
        var request = Request;
        if (request.HeadTimeout is null || !request.HeadTimeout.TryReset())
        {
            request.HeadTimeout?.Dispose();
            request.HeadTimeout = new CancellationTokenSource();
        }

        request.HeadTimeout.CancelAfter(_settings.RequestHeadersTimeout);
    }

    private async ValueTask<ReadResult> ReadWithHeadTimeoutAsync(CancellationToken cancellationToken)
    {
        var headToken = Request.HeadTimeout!.Token;
        using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, headToken) : null;
        return await _source.ReadAsync(linked?.Token ?? headToken);
    }

    private HeadDecision HandleHead(ReadOnlyMemory<byte> headMemory, ReadOnlySpan<byte> head)
    {
        var route = RequestRouter.Route(head, Request.Head, _tunnel, _tunnelHostKind, _settings);
        var shape = route.Kind switch
        {
            RouteKind.Prefixed => TargetShape.Prefixed,

            // Other proxy-host paths reach the app unprefixed, with the Host header naming that host, so the app can
            // route them with RequireHost.
            RouteKind.ProxyHostPath => TargetShape.ProxyHostPath,
            RouteKind.Verbatim => TargetShape.Verbatim,
            _ => TargetShape.Resolved,
        };
        if (shape == TargetShape.Resolved)
        {
            return HandleOtherRoute(headMemory, head, route);
        }

        // One plan and one hand-out for the three routes written here (a verbatim route's host and path are empty): each
        // copy of them would be one more stack slot to clear on every call.
        HandOutHead(head, new HeadPlan(head, Request.Head, shape, shape == TargetShape.Prefixed ? _settings.FixedPrefix : default,
            head[route.Host], head[route.PathAndQuery], route.Https, route.Port, _tunnel, route.HostIsCanonical));
        return HeadDecision.Handed();
    }

    /// <summary>The routes <see cref="HandleHead"/> does not write: CONNECT, refusals, the proxy's pages, the resolver.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private HeadDecision HandleOtherRoute(ReadOnlyMemory<byte> headMemory, ReadOnlySpan<byte> head, HeadRoute route) => route.Kind switch
    {
        RouteKind.Connect => TakeConnect(head),
        RouteKind.Refuse => HeadDecision.Refuse(route.Reason),
        RouteKind.ProxyPage => ServePage(head, route.Page!, head[route.PathAndQuery]),
        _ => Resolve(headMemory, route),
    };

    /// <summary>
    /// The Connect stage answers CONNECT once Kestrel (if it ran) is done with this connection: hand it the parsed head,
    /// with its own <see cref="RequestHead"/> (this reader needs a fresh one for the tunnel), and end this input.
    /// </summary>
    private HeadDecision TakeConnect(ReadOnlySpan<byte> head)
    {
        var reason = ConnectRequest.TryCreate(head, Request.Head, out var connect);
        if (reason != RejectReason.None)
        {
            return HeadDecision.Refuse(reason);
        }

        PendingConnect = connect;
        Request.Head = new RequestHead();
        _mode = Mode.Ended;
        _source.AdvanceTo(Request.Buffer.GetPosition(Request.SourceHeadLength));
        _hasBuffer = false;
        return HeadDecision.Handed(ended: true);
    }

    /// <summary>Hands the request to the resolver; <see cref="ReadHeadAsync"/> awaits it in <see cref="ResolveAsync"/>.</summary>
    private HeadDecision Resolve(ReadOnlyMemory<byte> headMemory, HeadRoute route)
    {
        _resolver ??= new ResolverCall();
        _resolver.Route = route;
        var host = headMemory.Span[route.Host];
        var hostString = host.IsEmpty ? _tunnel!.Host : TargetBuilder.NormalizeHost(Encoding.ASCII.GetString(host));
        _resolver.Context.Set(headMemory, Request.Head, route.Https ? "https" : "http", hostString, route.Port, PathString(headMemory.Span[route.PathAndQuery]),
            _tunnel is not null, _tunnel?.ConnectHeaders);
        return new HeadDecision(HeadAction.Resolve, Bytes: headMemory);
    }

    private async ValueTask<HeadDecision> ResolveAsync(ReadOnlyMemory<byte> headMemory, CancellationToken cancellationToken)
    {
        var resolution = await PrefixResolution.ResolveAsync(_settings, _resolver!.Context, _connectionId, cancellationToken);
        if (resolution.ChallengeRealm is { } realm)
        {
            return HeadDecision.Refuse(RejectReason.ProxyAuthenticationRequired, realm);
        }

        if (resolution.Target is not { } newTarget)
        {
            return HeadDecision.Refuse(RejectReason.ResolverFailed);
        }

        var head = headMemory.Span;
        var route = _resolver.Route;
        HandOutHead(head, new HeadPlan(head, Request.Head, TargetShape.Resolved, Encoding.ASCII.GetBytes(newTarget), head[route.Host],
            default, route.Https, route.Port, _tunnel));
        return HeadDecision.Handed();
    }

    private static string PathString(ReadOnlySpan<byte> pathAndQuery)
    {
        var path = Encoding.Latin1.GetString(pathAndQuery);
        return path.Length == 0 || path[0] != '/' ? "/" + path : path;
    }

    /// <summary>Hands Kestrel the head <see cref="HeadWriter"/> writes for <paramref name="plan"/> and sets up the body that follows.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // its frame apart: inlined, the plan's copies were cleared on every call
    private void HandOutHead(ReadOnlySpan<byte> head, in HeadPlan plan)
    {
        var request = Request;
        var output = HeadOutput(request, HeadWriter.MaxLength(head, plan));
        var written = HeadWriter.Write(output, head, request.Head, plan);
        if (plan.Shape is TargetShape.Prefixed or TargetShape.Resolved)
        {
            _settings.Metrics.RequestsRewritten.Add(1);
        }

        request.HeadOutLength = written;
        request.HeadOutConsumed = 0;
        if (request.Head.ConnectionUpgrade)
        {
            request.AfterHead = Mode.UpgradePending;
        }
        else if (request.Head.IsChunked)
        {
            request.AfterHead = Mode.ChunkedBody;
            request.ChunkedBody ??= new ChunkedBody();
            Chunked.Reset(_settings.MaxRequestHeadersTotalSize);
            request.ChunkedBody.Validated = 0;
            request.ChunkedBody.Consumed = 0;
            request.BodyError = RejectReason.None;
            request.BodyStalled = false;
        }
        else
        {
            request.AfterHead = Mode.ContentLengthBody;
            request.BodyRemaining = Math.Max(0, request.Head.ContentLength);
        }

        // Kestrel answers HTTP/1.0 keep-alive with a length when it has one, else by closing: inside a tunnel the
        // writer gives small streamed responses a length instead (SPEC §3.7, issue 10.5).
        request.HoldResponse = _tunnel is not null && request.Head.ConnectionKeepAlive && !request.Head.ConnectionUpgrade && !request.Head.Method(head).SequenceEqual("HEAD"u8);
        _mode = Mode.HeadHandedOut;
    }

    /// <summary>The state's head buffer, at least <paramref name="length"/> long: the last head's when it is large enough.</summary>
    private static byte[] HeadOutput(RequestState request, int length)
    {
        if (request.HeadOut is { } buffer)
        {
            if (buffer.Length >= length)
            {
                return buffer;
            }

            ArrayPool<byte>.Shared.Return(buffer);
        }

        return request.HeadOut = ArrayPool<byte>.Shared.Rent(length);
    }

    /// <summary>What Kestrel reads for a head handed out: the head just written, or the end of the input.</summary>
    private ReadResult HandedResult(in HeadDecision decision)
        => decision.Close ? new ReadResult(default, false, true) : new ReadResult(new ReadOnlySequence<byte>(Request.HeadOut!, 0, Request.HeadOutLength), false, false);

    private HeadDecision ServePage(ReadOnlySpan<byte> head, byte[] page, ReadOnlySpan<byte> pathAndQuery)
    {
        var isHead = Request.Head.Method(head).SequenceEqual("HEAD"u8);
        var close = Request.Head.IsHttp10 || Request.Head.HasBody || Request.Head.ConnectionUpgrade || ConnectionClose(head);
        if (_settings.Logger.IsEnabled(LogLevel.Debug))
        {
            ProxyTunnelLog.ServedProxyPage(_settings.Logger, _connectionId, Encoding.ASCII.GetString(pathAndQuery));
        }

        return new HeadDecision(HeadAction.ServePage, Bytes: isHead ? page.AsMemory(0, ProxyHostPages.HeadLength(page)) : page, Close: close);
    }

    private bool ConnectionClose(ReadOnlySpan<byte> head)
    {
        foreach (ref readonly var line in Request.Head.Lines)
        {
            if (Ascii.EqualsIgnoreCase(RequestHead.Name(head, line), "connection"u8)
                && RequestHeadParser.ListContains(RequestHead.Value(head, line), "close"u8))
            {
                return true;
            }
        }

        return false;
    }

    private async ValueTask RejectAsync(RejectReason reason, string? realm = null)
    {
        _mode = Mode.Ended;
        Refused = true;
        _awaitingHeadBytes = false;
        Request.Scanned = 0;
        Request.RequestLineEnd = 0;
        if (_hasBuffer)
        {
            _source.AdvanceTo(Request.Buffer.End);
            _hasBuffer = false;
        }

        await ProxyResponses.RefuseAsync(Responses, reason, realm, _settings.Logger, _settings.Metrics, _connectionId);
    }

    // A head over several segments, in methods of their own: inlined, each sequence slice would be a stack slot cleared
    // on every call of the common path.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool IsEmptyFrom(int skip) => Request.Buffer.Slice(skip).IsEmpty;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ReadOnlySpan<byte> LinearizeFrom(int skip)
    {
        var data = Request.Buffer.Slice(skip);
        if (data.IsSingleSegment)
        {
            return data.FirstSpan;
        }

        var length = (int)Math.Min(data.Length, _settings.MaxRequestLineSize + _settings.MaxRequestHeadersTotalSize + 1);
        EnsureScratch(length);
        data.Slice(0, length).CopyTo(Request.Scratch);
        return Request.Scratch.AsSpan(0, length);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ReadOnlyMemory<byte> LinearizeMemoryFrom(int skip, int length)
    {
        var data = Request.Buffer.Slice(skip);
        var first = data.First;
        if (first.Length >= length)
        {
            return first[..length];
        }

        EnsureScratch(length);
        data.Slice(0, length).CopyTo(Request.Scratch);
        return Request.Scratch.AsMemory(0, length);
    }

    private void EnsureScratch(int length)
    {
        var request = Request;
        if (request.Scratch is null || request.Scratch.Length < length)
        {
            if (request.Scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(request.Scratch);
            }

            request.Scratch = ArrayPool<byte>.Shared.Rent(length);
        }
    }

    /// <summary>True while the reader holds a pooled copy of a head that arrived in pieces: once the head is handed out it never does.</summary>
    internal bool HoldsScratch => _request?.Scratch is not null;

    /// <summary>True while the reader holds a pooled buffer: a busy connection keeps its head buffer for the next head;
    /// one that waits for a head's bytes, or is idle, holds none.</summary>
    internal bool HoldsPooledBuffers => _request is { } request && (request.Scratch is not null || request.HeadOut is not null);

    /// <summary>True while the parsed head keeps its pooled line tables: a connection waiting for its next head has none.</summary>
    internal bool HoldsHeadTables => _request?.Head.HoldsTables == true;

    /// <summary>True while a request's state is rented: a connection waiting idle for its next head holds none.</summary>
    internal bool HoldsRequestState => _request is not null;

    /// <summary>Returns pooled buffers once the head scratch is no longer needed, so idle connections hold none.</summary>
    private void ReleaseScratch()
    {
        if (_request?.Scratch is { } scratch)
        {
            ArrayPool<byte>.Shared.Return(scratch);
            _request.Scratch = null;
        }
    }

    /// <summary>Waiting for a head's bytes: the scratch and the last head's buffer go back too.</summary>
    private void ReleaseBuffers()
    {
        ReleaseScratch();
        if (_request?.HeadOut is { } headOut)
        {
            ArrayPool<byte>.Shared.Return(headOut);
            _request.HeadOut = null;
        }
    }

    public override void CancelPendingRead() => _source.CancelPendingRead();

    public override void Complete(Exception? exception = null)
    {
        // Kestrel completes its input when it is done; the middleware owns the real transport.
        if (_hasBuffer && _mode != Mode.Ended)
        {
            _source.AdvanceTo(Request.Buffer.Start);
        }

        _hasBuffer = false;
        ReturnRequest();
        _mode = Mode.Ended;
    }

    // Shared by every connection; a burst of busy connections leaves at most this many behind.
    private static readonly DefaultObjectPool<RequestState> RequestStates = new(new RequestStatePolicy(), Math.Max(64, 16 * Environment.ProcessorCount));

    /// <summary>The current request's state, rented when its head starts.</summary>
    private RequestState Request => _request ?? RentRequest();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private RequestState RentRequest() => _request = RequestStates.Get();

    /// <summary>Gives the request state back (with its head's line tables and any pooled buffer): nothing of it is held idle.</summary>
    private void ReturnRequest()
    {
        if (_request is { } request)
        {
            _request = null;
            RequestStates.Return(request);
        }
    }

    /// <summary>
    /// Everything one request needs between its head's first byte and its body's end (or the idle read's result
    /// until Kestrel takes it). Rented per request from a small shared pool, so a busy connection allocates nothing
    /// and an idle one holds none (issue 13.1).
    /// </summary>
    private sealed class RequestState
    {
        public RequestHead Head = new();
        public ReadOnlySequence<byte> Buffer;

        // What the idle read completes with, until Kestrel takes it; the caller's token while it waits (if any).
        public ReadResult IdleResult;
        public CancellationToken IdleCancellation;

        // Head scanning progress, kept across reads of a head that arrives in pieces, and its clock.
        public int Scanned;
        public int RequestLineEnd;
        public byte[]? Scratch;
        public CancellationTokenSource? HeadTimeout;

        // The rewritten head handed to Kestrel (its buffer kept for the next head while the state is rented) and the
        // source position just past the original head.
        public byte[]? HeadOut;
        public int HeadOutLength;
        public int HeadOutConsumed;
        public long SourceHeadLength;
        public Mode AfterHead;
        public bool HoldResponse;

        public long BodyRemaining;
        public ChunkedBody? ChunkedBody;
        public RejectReason BodyError;

        // Kestrel examined every good byte before a refused one and still wants more: the next read fails the body.
        public bool BodyStalled;
        public long Handed;

        /// <summary>Clears this state for the next request: its pooled buffers and line tables go back.</summary>
        public void Clear()
        {
            Head.Release();
            if (Scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(Scratch);
            }

            if (HeadOut is not null)
            {
                ArrayPool<byte>.Shared.Return(HeadOut);
            }

            HeadTimeout?.Dispose();
            (Buffer, IdleResult, IdleCancellation, Scratch, HeadOut, HeadTimeout) = (default, default, default, null, null, null);
            (Scanned, RequestLineEnd, HeadOutLength, HeadOutConsumed, SourceHeadLength) = (0, 0, 0, 0, 0);
            (AfterHead, HoldResponse, BodyRemaining, BodyError, BodyStalled, Handed) = (default, false, 0, RejectReason.None, false, 0);
        }
    }

    private sealed class RequestStatePolicy : IPooledObjectPolicy<RequestState>
    {
        public RequestState Create() => new();

        public bool Return(RequestState state)
        {
            state.Clear();
            return true;
        }
    }

    /// <summary>The chunked-body state, made the first time a pooled request state frames a chunked body, and kept with it.</summary>
    private sealed class ChunkedBody
    {
        public ChunkedBodyValidator Validator;
        public long Validated;
        public long Consumed;
    }

    private ChunkedBody ChunkedState => Request.ChunkedBody!;

    private ref ChunkedBodyValidator Chunked => ref Request.ChunkedBody!.Validator;

    /// <summary>What the resolver path keeps between deciding a head and the resolver's answer: made on first use.</summary>
    private sealed class ResolverCall
    {
        public ProxyRequestContext Context { get; } = new();

        public HeadRoute Route { get; set; }
    }

    public void Dispose() => ReturnRequest();
}
