using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using ProxTunnel.Rewriting;
using ProxTunnel.Tests.Infrastructure;
using ProxTunnel.Tests.Rewriting;

namespace ProxTunnel.Tests.Hardening;

/// <summary>
/// Differential fuzzing: seeded request streams (valid, edge and hostile) whose meaning the generator knows, fed to the
/// rewriter in-process (the bulk) and through the middleware into a real Kestrel app (plain tunnels, TLS tunnels and
/// absolute-form). Scale with PROXTUNNEL_FUZZ_CASES (in-process streams, default 100 000) and PROXTUNNEL_FUZZ_E2E_STREAMS
/// (end-to-end streams per mode, default 2 000); PROXTUNNEL_FUZZ_SEED moves the seeds.
/// </summary>
[NonParallelizable]
public sealed partial class DifferentialFuzzTests
{
    private static int InProcessCases => EnvInt("PROXTUNNEL_FUZZ_CASES", 100_000);

    private static int EndToEndStreams => EnvInt("PROXTUNNEL_FUZZ_E2E_STREAMS", 2_000);

    private static int Seed => EnvInt("PROXTUNNEL_FUZZ_SEED", 20_260_101);

    private static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), System.Globalization.CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;

    [Test]
    public void Rewriter_MatchesGeneratorMeaning_WhenFedGeneratedStreamsInProcess()
    {
        var cases = InProcessCases;
        var settings = new RewriteSettings(new ProxyTunnelOptions { Prefix = RequestStreamGenerator.Prefix }, pages: null, NullLogger.Instance);
        var failures = new ConcurrentQueue<string>();
        long requests = 0;
        long bytes = 0;
        var kinds = new long[3];
        var stopwatch = Stopwatch.StartNew();
        Parallel.For(0, cases, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            if (failures.Count >= 10)
            {
                return;
            }

            var mode = (FuzzMode)(i % 3);
            var seed = unchecked(Seed + i);
            var generator = new RequestStreamGenerator(seed, mode, allowUpgrade: true);
            var stream = generator.Next(connection: i, mayEnd: generator.Random.Next(4) != 0);
            var cuts = Cuts(generator.Random, stream.Wire.Length);
            var failure = CheckInProcess(settings, mode, stream, cuts);
            Interlocked.Add(ref requests, stream.Messages.Count);
            Interlocked.Add(ref bytes, stream.Wire.Length);
            var last = stream.Messages[^1].Kind;
            Interlocked.Increment(ref kinds[(int)last]);
            if (failure is not null)
            {
                failures.Enqueue($"seed {seed} mode {mode} cuts [{string.Join(',', cuts)}]: {failure}\n  stream: {stream.Describe()}\n  bytes: {Escape(stream.Wire, 600)}");
            }
        });
        stopwatch.Stop();
        TestContext.Out.WriteLine($"in-process: {cases} streams ({requests} requests, {bytes / 1024} KiB; ending valid {kinds[0]}, invalid head {kinds[1]}, invalid body {kinds[2]}) " +
                                  $"in {stopwatch.Elapsed.TotalSeconds:F1} s = {cases / stopwatch.Elapsed.TotalSeconds:F0} streams/s");
        Assert.That(failures, Is.Empty, string.Join("\n\n", failures));
    }

    private static int[] Cuts(Random random, int length)
    {
        if (length < 2)
        {
            return [];
        }

        if (length < 300 && random.Next(40) == 0)
        {
            return [.. Enumerable.Range(1, length - 1)];
        }

        return [.. Enumerable.Range(0, random.Next(0, 6)).Select(_ => random.Next(1, length))];
    }

    /// <summary>Runs one stream through a fresh rewriter; null when the output is what the generator meant.</summary>
    private static string? CheckInProcess(RewriteSettings settings, FuzzMode mode, GeneratedStream stream, int[] cuts)
    {
        var source = new ScriptedPipeReader(stream.Wire, cuts);
        using var rewriter = new RewritingPipeReader(settings, "fuzz");
        var responses = new Pipe();
        TunnelTarget? tunnel = mode switch
        {
            FuzzMode.PlainTunnel => new TunnelTarget(false, "example.com", 80, new Dictionary<string, string>()),
            FuzzMode.TlsTunnel => new TunnelTarget(true, "example.com", 443, new Dictionary<string, string>()),
            _ => null,
        };
        rewriter.Start(source, new ResponseSniffingWriter(responses.Writer), tunnel);
        var output = new ArrayBufferWriter<byte>();
        var completed = false;
        var bodyFailed = false;
        for (var i = 0; i < 1_000_000 && !completed; i++)
        {
            var task = rewriter.ReadAsync();
            if (!task.IsCompleted)
            {
                return "the rewriter waited for input the source had already delivered";
            }

            if (task.IsFaulted)
            {
                // A refused chunked body ends with BadHttpRequestException, which Kestrel answers with 400 and a close.
                var error = task.AsTask().Exception!.InnerException;
                if (error is not Microsoft.AspNetCore.Http.BadHttpRequestException { StatusCode: 400 })
                {
                    return $"the rewriter failed: {error}";
                }

                completed = bodyFailed = true;
                break;
            }

            var result = task.Result;
            foreach (var segment in result.Buffer)
            {
                output.Write(segment.Span);
            }

            rewriter.AdvanceTo(result.Buffer.End);
            completed = result.IsCompleted;
        }

        rewriter.Complete();
        if (!completed)
        {
            return "the rewriter never completed";
        }

        responses.Writer.Complete();
        var answered = responses.Reader.TryRead(out var written) ? Encoding.Latin1.GetString(written.Buffer.ToArray()) : "";
        var got = output.WrittenSpan;
        var expected = new List<byte>();
        foreach (var message in stream.Messages.Where(m => m.Kind == MessageKind.Valid))
        {
            expected.AddRange(message.Rewritten);
        }

        var last = stream.Messages[^1];
        switch (last.Kind)
        {
            case MessageKind.Valid:
                if (bodyFailed)
                {
                    return "the rewriter refused the body of a valid stream";
                }

                if (!got.SequenceEqual(expected.ToArray()))
                {
                    return $"output differs\n  expected: {Escape([.. expected], 400)}\n  got:      {Escape(got.ToArray(), 400)}";
                }

                return answered.Length == 0 ? null : $"the proxy answered on a valid stream: {answered}";
            case MessageKind.InvalidHead:
                if (!got.SequenceEqual(expected.ToArray()))
                {
                    return $"bytes before/of the refused head reached Kestrel\n  expected: {Escape([.. expected], 400)}\n  got:      {Escape(got.ToArray(), 400)}";
                }

                return answered.StartsWith($"HTTP/1.1 {last.ExpectedStatus} ", StringComparison.Ordinal) && answered.Contains("Connection: close", StringComparison.Ordinal)
                    ? null
                    : $"expected a {last.ExpectedStatus} with Connection: close, the proxy answered '{Escape(Encoding.Latin1.GetBytes(answered), 120)}'";
            default:
                expected.AddRange(last.RewrittenHead);
                if (got.Length < expected.Count || !got[..expected.Count].SequenceEqual(expected.ToArray()))
                {
                    return $"the head before a broken chunked body was not handed out as expected\n  got: {Escape(got.ToArray(), 400)}";
                }

                var body = got[expected.Count..];
                if (!last.FramedBody.AsSpan().StartsWith(body) || body.IndexOf("smuggled"u8) >= 0)
                {
                    return $"bytes past a broken chunked body reached Kestrel: {Escape(body.ToArray(), 300)}";
                }

                if (body.Length >= last.FramedBody.AsSpan().IndexOf("GET "u8) + 4)
                {
                    return $"the whole broken body reached Kestrel: {Escape(body.ToArray(), 300)}";
                }

                if (!bodyFailed && body.Length < last.FramedBody.Length)
                {
                    return "a broken chunked body did not end in BadHttpRequestException";
                }

                return answered.Length == 0 ? null : $"unexpected proxy answer {answered}";
        }
    }

    internal static string Escape(byte[] bytes, int max)
    {
        var builder = new StringBuilder();
        foreach (var b in bytes.Take(max))
        {
            builder.Append(b switch
            {
                (byte)'\r' => "\\r",
                (byte)'\n' => "\\n",
                (byte)'\t' => "\\t",
                < 0x20 or >= 0x7F => $"\\x{b:x2}",
                _ => ((char)b).ToString(),
            });
        }

        return bytes.Length > max ? builder.Append($"…(+{bytes.Length - max} bytes)").ToString() : builder.ToString();
    }

    [GeneratedRegex(@"/c(\d+)/")]
    private static partial Regex ConnectionMarker();

    [TestCase(FuzzMode.PlainTunnel)]
    [TestCase(FuzzMode.TlsTunnel)]
    [TestCase(FuzzMode.Absolute)]
    [TestCase(FuzzMode.ConnectAfterRequests)]
    public async Task App_SeesExactlyWhatGeneratorMeant_WhenStreamsGoThroughKestrel(FuzzMode mode)
    {
        await using var app = await TestApp.StartAsync(t => t.Prefix = RequestStreamGenerator.Prefix);
        var plans = new List<(int Id, int Seed, List<GeneratedStream> Streams)>();
        var master = new Random(Seed ^ (int)mode * 7919);
        var total = 0;
        for (var id = (int)mode * 1_000_000; total < EndToEndStreams; id++)
        {
            var seed = master.Next();
            var generator = new RequestStreamGenerator(seed, mode == FuzzMode.ConnectAfterRequests ? FuzzMode.PlainTunnel : mode, allowUpgrade: false);
            var count = generator.Random.Next(1, 16);
            var streams = new List<GeneratedStream>();
            if (mode == FuzzMode.ConnectAfterRequests)
            {
                // Absolute-form requests first (all answered, the connection kept), then the CONNECT, then the tunnel.
                var before = new RequestStreamGenerator(~seed, FuzzMode.Absolute, allowUpgrade: false);
                for (var s = before.Random.Next(1, 4); s > 0; s--)
                {
                    streams.Add(before.Next(id, mayEnd: false));
                }

                streams.Add(RequestStreamGenerator.Connect("example.com:80"));
            }

            for (var s = 0; s < count; s++)
            {
                streams.Add(generator.Next(id, mayEnd: s == count - 1));
            }

            plans.Add((id, seed, streams));
            total += count;
        }

        var failures = new ConcurrentQueue<string>();
        var stopwatch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(plans, new ParallelOptions { MaxDegreeOfParallelism = 24 }, async (plan, _) =>
        {
            if (failures.Count >= 10)
            {
                return;
            }

            try
            {
                var failure = await RunConnectionAsync(app, mode, plan.Streams);
                if (failure is not null)
                {
                    failures.Enqueue($"connection {plan.Id} (generator seed {plan.Seed}, mode {mode}): {failure}\n  streams: {string.Join("\n           ", plan.Streams.Select(s => s.Describe()))}");
                }
            }
            catch (Exception ex)
            {
                failures.Enqueue($"connection {plan.Id} (generator seed {plan.Seed}, mode {mode}): {ex}\n  streams: {string.Join("\n           ", plan.Streams.Select(s => s.Describe()))}");
            }
        });
        stopwatch.Stop();

        // What the app saw, connection by connection: exactly the meant requests, in order, every one rewritten.
        var seen = app.SeenTargets.ToArray();
        var byConnection = new Dictionary<int, List<string>>();
        foreach (var target in seen)
        {
            if (!target.StartsWith("/p/http://example.com/", StringComparison.Ordinal) && !target.StartsWith("/p/https://example.com/", StringComparison.Ordinal))
            {
                failures.Enqueue($"the app saw a target that is not rewritten: {target}");
                continue;
            }

            var match = ConnectionMarker().Match(target);
            if (!match.Success || target.Contains("/smuggled", StringComparison.Ordinal))
            {
                failures.Enqueue($"the app saw a request nobody meant: {target}");
                continue;
            }

            var id = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            if (!byConnection.TryGetValue(id, out var list))
            {
                byConnection[id] = list = [];
            }

            list.Add(target);
        }

        var requests = 0;
        foreach (var plan in plans)
        {
            var messages = plan.Streams.SelectMany(s => s.Messages).ToList();
            var meant = messages.Where(m => m.Kind == MessageKind.Valid).Select(m => m.ExpectedTarget).ToList();
            requests += messages.Count;
            var got = byConnection.GetValueOrDefault(plan.Id) ?? [];
            var allowed = messages[^1].Kind == MessageKind.InvalidBody ? meant.Append(messages[^1].ExpectedTarget).ToList() : meant;
            if (!got.SequenceEqual(meant) && !got.SequenceEqual(allowed))
            {
                failures.Enqueue($"connection {plan.Id} (seed {plan.Seed}): the app saw\n    {string.Join("\n    ", got)}\n  meant\n    {string.Join("\n    ", allowed)}");
            }
        }

        TestContext.Out.WriteLine($"end-to-end {mode}: {total} streams, {requests} requests on {plans.Count} connections in {stopwatch.Elapsed.TotalSeconds:F1} s " +
                                  $"= {total / stopwatch.Elapsed.TotalSeconds:F0} streams/s, {seen.Length} requests reached the app");
        Assert.That(failures, Is.Empty, string.Join("\n\n", failures.Take(10)));
    }

    /// <summary>Runs one connection's streams: the client writes while it reads the responses. Null when all went as meant.</summary>
    private static async Task<string?> RunConnectionAsync(TestApp app, FuzzMode mode, List<GeneratedStream> streams)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var token = timeout.Token;
        await using var client = await HardeningClient.OpenAsync(app.Port, token);
        if (mode is FuzzMode.PlainTunnel or FuzzMode.TlsTunnel)
        {
            var established = await client.ConnectAsync(mode == FuzzMode.TlsTunnel ? "example.com:443" : "example.com:80", token);
            if (established?.Status != 200)
            {
                return $"CONNECT answered {established?.Status}";
            }

            if (mode == FuzzMode.TlsTunnel)
            {
                await client.StartTlsAsync("example.com", app.Authority.RootCertificate, token);
            }
        }

        var wire = streams.SelectMany(s => s.Wire).ToArray();
        var random = new Random(wire.Length);
        var messages = streams.SelectMany(s => s.Messages).ToList();

        // A refused request leaves unread bytes behind (what follows it): the server's close then sends a TCP reset,
        // and a reset may discard responses the client has not read yet. So the refused request goes out only once
        // every earlier response has arrived; everything before it is pipelined.
        var hold = messages[^1].Kind == MessageKind.Valid ? wire.Length : wire.Length - messages[^1].Wire.Length;
        var earlierAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writer = Task.Run(async () =>
        {
            try
            {
                // Arbitrary write sizes, so heads and bodies arrive split at random places.
                var offset = 0;
                for (var guard = 0; guard < 1_000_000 && offset < wire.Length; guard++)
                {
                    if (offset == hold)
                    {
                        await earlierAnswered.Task.WaitAsync(token);
                    }

                    var end = offset < hold ? hold : wire.Length;
                    var size = Math.Min(end - offset, random.Next(3) == 0 ? random.Next(1, 64) : random.Next(64, 65536));
                    await client.SendAsync(wire.AsMemory(offset, size), token);
                    offset += size;
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException or NotSupportedException)
            {
                // The server may close while the client still writes what follows a refused request.
            }
        }, token);

        string? failure = null;
        foreach (var message in messages)
        {
            if (message.Kind == MessageKind.Connect)
            {
                var established = await client.ReadResponseAsync(token, expectBody: false);
                if (established?.Status != 200)
                {
                    failure = $"CONNECT after requests answered {established?.Status}";
                    break;
                }

                continue;
            }

            if (message.Kind != MessageKind.Valid)
            {
                earlierAnswered.TrySetResult();
            }

            if (message.Kind == MessageKind.Valid)
            {
                var response = await client.ReadResponseAsync(token);
                if (response is null)
                {
                    failure = $"connection closed before the response to {message.Method} {message.ExpectedTarget} ({message.Description})";
                    break;
                }

                if (response.Status != 200)
                {
                    failure = $"{message.Method} {message.ExpectedTarget} ({message.Description}) got {response.Status}: {response.Text}";
                    break;
                }

                using var json = JsonDocument.Parse(response.Body);
                var target = json.RootElement.GetProperty("target").GetString();
                var length = json.RootElement.GetProperty("bodyLength").GetInt64();
                var sha = json.RootElement.GetProperty("bodySha256").GetString();
                if (target != message.ExpectedTarget || length != message.Body.Length || sha != message.BodySha256
                    || json.RootElement.GetProperty("method").GetString() != message.Method)
                {
                    failure = $"meant {message.Method} {message.ExpectedTarget} body {message.Body.Length} ({message.Description}), app saw {response.Text}";
                    break;
                }

                if (message.ClosesConnection)
                {
                    var extra = await client.ReadUntilClosedAsync(token);
                    failure = extra.Length == 0 ? null : $"bytes after a closing response: {Escape(extra, 200)}";
                }

                continue;
            }

            // SPEC §3.7: every refusal is a status line the client can read, then a close; a broken chunked body gets 400.
            var refusal = await client.ReadResponseAsync(token);
            var expectedStatus = message.Kind == MessageKind.InvalidHead ? message.ExpectedStatus : 400;
            if (refusal?.Status != expectedStatus)
            {
                failure = $"{message.Kind} '{message.Description}' answered {refusal?.Status.ToString() ?? "nothing (closed)"} (expected {expectedStatus}): {refusal?.Text}";
                break;
            }

            var after = await client.ReadUntilClosedAsync(token);
            if (after.Length > 0)
            {
                failure = $"bytes after the refusal of '{message.Description}': {Escape(after, 200)}";
            }

            break;
        }

        if (failure is not null || !streams[^1].EndsConnection)
        {
            client.Reset();
        }

        earlierAnswered.TrySetResult();

        try
        {
            await writer.WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
        }
        catch (TimeoutException)
        {
            client.Reset();
            failure ??= "the client's writer never finished: the server stopped reading";
        }

        return failure;
    }
}
