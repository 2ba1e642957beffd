using System.Buffers;
using System.Text;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Tests.Rewriting;

/// <summary>Table-driven: where <see cref="ChunkedBodyValidator"/> finds the end of a chunked body, and what it refuses.</summary>
public sealed class ChunkedBodyValidatorTests
{
    [TestCase("0\r\n\r\n")]
    [TestCase("5\r\nhello\r\n0\r\n\r\n")]
    [TestCase("5;a=b;c\r\nhello\r\n00000000\r\n\r\n")]
    [TestCase("A\r\n0123456789\r\n0\r\nX-T: 1\r\nY:\r\n\r\n")]
    [TestCase("1\r\n\n\r\n0\r\n\r\n")]
    public void Accept_WhenBodyIsValid_StopsExactlyAtItsEnd(string body)
    {
        foreach (var pieces in new[] { 1, 3, body.Length })
        {
            var (accepted, reason, validator) = Feed(body + "GET /next HTTP/1.1\r\n", pieces);
            Assert.Multiple(() =>
            {
                Assert.That(reason, Is.EqualTo(RejectReason.None), $"{pieces} pieces");
                Assert.That(accepted, Is.EqualTo(body.Length), $"{pieces} pieces");
                Assert.That(validator.IsDone, Is.True);
            });
        }
    }

    [TestCase("5 \r\nhello\r\n0\r\n\r\n", nameof(RejectReason.InvalidChunkSize), 1)]
    [TestCase(" 5\r\nhello\r\n0\r\n\r\n", nameof(RejectReason.InvalidChunkSize), 0)]
    [TestCase("0x5\r\n", nameof(RejectReason.InvalidChunkSize), 1)]
    [TestCase("5\nhello", nameof(RejectReason.InvalidChunkSize), 1)]
    [TestCase("000000005\r\nhello\r\n", nameof(RejectReason.InvalidChunkSize), 8)]
    [TestCase("80000000\r\n", nameof(RejectReason.InvalidChunkSize), 7)]
    [TestCase("5;a\nb\r\n", nameof(RejectReason.InvalidChunkExtension), 3)]
    [TestCase("5\r\nhelloXX", nameof(RejectReason.InvalidChunkTerminator), 8)]
    [TestCase("5\r\nhello\r0", nameof(RejectReason.InvalidChunkTerminator), 9)]
    [TestCase("0\r\nBad Name: x\r\n\r\n", nameof(RejectReason.InvalidTrailer), 6)]
    [TestCase("0\r\nX: a\nY: b\r\n\r\n", nameof(RejectReason.InvalidTrailer), 7)]
    [TestCase("0\r\n folded: x\r\n\r\n", nameof(RejectReason.InvalidTrailer), 3)]
    public void Accept_WhenBodyIsBroken_RefusesAtTheFirstBadByte(string body, string expected, int goodBytes)
    {
        var (accepted, reason, _) = Feed(body, pieces: 1);
        Assert.That((reason, accepted), Is.EqualTo((Enum.Parse<RejectReason>(expected), (long)goodBytes)));
    }

    [TestCase("0\r\n\r\n", 3, 0)]
    [TestCase("0\r\nProxy-Authorization: Basic eDp5\r\n\r\n", 3, 1)]
    [TestCase("3\r\nabc\r\n0;x\r\nX-A: 1\r\nproxy-connection: close\r\nProxy-Authorization:x\r\nX-B: 2\r\n\r\n", 13, 2)]
    [TestCase("0\r\nProxy-Authorizatio: x\r\nProxy-Connections: y\r\nX-Proxy-Connection: z\r\n\r\n", 3, 0)]
    public void Accept_FindsTheProxyTrailersToRemove(string body, int trailerStart, int removedLines)
    {
        foreach (var pieces in new[] { 1, body.Length })
        {
            var (_, reason, validator) = Feed(body, pieces);
            Assert.That(reason, Is.EqualTo(RejectReason.None));
            var removed = validator.RemovedTrailers;
            Assert.That(removed?.Count ?? 0, Is.EqualTo(removedLines), $"{pieces} pieces");
            Assert.That(validator.TrailerStart, Is.EqualTo(trailerStart));
            foreach (var (start, end) in removed ?? [])
            {
                var line = body[(int)start..(int)end];
                Assert.That(line, Does.StartWith("proxy-").IgnoreCase.And.EndWith("\r\n"));
            }
        }
    }

    /// <summary>Feeds <paramref name="text"/> in pieces of <paramref name="pieces"/> bytes as separate reads.</summary>
    private static (long Accepted, RejectReason Reason, ChunkedBodyValidator Validator) Feed(string text, int pieces)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        var validator = default(ChunkedBodyValidator);
        validator.Reset(32 * 1024);
        long accepted = 0;
        var reason = RejectReason.None;
        for (var offset = 0; offset < bytes.Length && !validator.IsDone && reason == RejectReason.None; offset += pieces)
        {
            var piece = new ReadOnlySequence<byte>(bytes, offset, Math.Min(pieces, bytes.Length - offset));
            accepted += validator.Accept(piece, out reason);
        }

        return (accepted, reason, validator);
    }
}
