using System.Text;
using ProxTunnel.Http2;

namespace ProxTunnel.Tests.Http2;

/// <summary>The HPACK decoder against RFC 7541 Appendix C, and the encoder by round trip.</summary>
public sealed class HpackTests
{
    private static List<(string Name, string Value)> Decode(HpackDecoder decoder, string hex, out HpackStatus status, int maxBytes = 32 * 1024)
    {
        var fields = new HeaderFieldList(maxBytes);
        try
        {
            status = decoder.Decode(Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal)), fields);
            var list = new List<(string, string)>();
            for (var i = 0; i < fields.Count; i++)
            {
                list.Add((Encoding.Latin1.GetString(fields.Name(fields[i])), Encoding.Latin1.GetString(fields.Value(fields[i]))));
            }

            return list;
        }
        finally
        {
            fields.Release();
        }
    }

    private static List<(string Name, string Value)> DecodeOk(HpackDecoder decoder, string hex)
    {
        var list = Decode(decoder, hex, out var status);
        Assert.That(status, Is.EqualTo(HpackStatus.Ok));
        return list;
    }

    [TestCase("400a637573746f6d2d6b65790d637573746f6d2d686561646572", "custom-key", "custom-header", 55)]
    [TestCase("040c2f73616d706c652f70617468", ":path", "/sample/path", 0)]
    [TestCase("100870617373776f726406736563726574", "password", "secret", 0)]
    [TestCase("82", ":method", "GET", 0)]
    public void Decode_MatchesRfc7541C2_ForEachFieldRepresentation(string hex, string name, string value, int tableSize)
    {
        using var decoder = new HpackDecoder(4096);
        var fields = DecodeOk(decoder, hex);
        Assert.Multiple(() =>
        {
            Assert.That(fields, Is.EqualTo(new[] { (name, value) }));
            Assert.That(decoder.Table.Size, Is.EqualTo(tableSize));
        });
    }

    [Test]
    public void Decode_NeverIndexedLiteral_IsMarkedSo()
    {
        using var decoder = new HpackDecoder(4096);
        var fields = new HeaderFieldList(1024);
        Assert.That(decoder.Decode(Convert.FromHexString("100870617373776f726406736563726574"), fields), Is.EqualTo(HpackStatus.Ok));
        Assert.That(fields[0].NeverIndexed, Is.True);
        fields.Release();
    }

    private static readonly (string Name, string Value)[] C3First = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")];
    private static readonly (string Name, string Value)[] C3Second = [.. C3First, ("cache-control", "no-cache")];
    private static readonly (string Name, string Value)[] C3Third =
        [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"), ("custom-key", "custom-value")];

    [TestCase("828684410f7777772e6578616d706c652e636f6d", "828684be58086e6f2d6361636865",
        "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565", TestName = "Decode_MatchesRfc7541C3_WhenRequestsShareTheTable")]
    [TestCase("828684418cf1e3c2e5f23a6ba0ab90f4ff", "828684be5886a8eb10649cbf",
        "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf", TestName = "Decode_MatchesRfc7541C4_WhenStringsAreHuffmanCoded")]
    public void Decode_Requests(string first, string second, string third)
    {
        using var decoder = new HpackDecoder(4096);
        Assert.That(DecodeOk(decoder, first), Is.EqualTo(C3First));
        Assert.That(decoder.Table.Size, Is.EqualTo(57));
        Assert.That(DecodeOk(decoder, second), Is.EqualTo(C3Second));
        Assert.That(decoder.Table.Size, Is.EqualTo(110));
        Assert.That(DecodeOk(decoder, third), Is.EqualTo(C3Third));
        Assert.That(decoder.Table.Size, Is.EqualTo(164));
    }

    private static readonly (string Name, string Value)[] C5First =
        [(":status", "302"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("location", "https://www.example.com")];
    private static readonly (string Name, string Value)[] C5Second = [(":status", "307"), .. C5First[1..]];
    private static readonly (string Name, string Value)[] C5Third =
    [
        (":status", "200"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT"), ("location", "https://www.example.com"),
        ("content-encoding", "gzip"), ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
    ];

    [TestCase("4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
        "4803333037c1c0bf",
        "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
        TestName = "Decode_MatchesRfc7541C5_WhenEntriesAreEvicted")]
    [TestCase("488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
        "4883640effc1c0bf",
        "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
        TestName = "Decode_MatchesRfc7541C6_WhenHuffmanAndEviction")]
    public void Decode_Responses(string first, string second, string third)
    {
        using var decoder = new HpackDecoder(256);
        Assert.That(DecodeOk(decoder, first), Is.EqualTo(C5First));
        Assert.That(decoder.Table.Size, Is.EqualTo(222));
        Assert.That(DecodeOk(decoder, second), Is.EqualTo(C5Second));
        Assert.That(decoder.Table.Size, Is.EqualTo(222));
        Assert.That(DecodeOk(decoder, third), Is.EqualTo(C5Third));
        Assert.That(decoder.Table.Size, Is.EqualTo(215));
        decoder.Table.Get(1, out var name, out _, out _);
        Assert.That(Encoding.ASCII.GetString(name), Is.EqualTo("set-cookie"));
    }

    [TestCase("3fe21f82", "TableSizeTooLarge", TestName = "Decode_RefusesSizeUpdate_AboveAdvertisedSize")]
    [TestCase("823f61", "Malformed", TestName = "Decode_RefusesSizeUpdate_AfterAField")]
    [TestCase("80", "Malformed", TestName = "Decode_RefusesIndexZero")]
    [TestCase("c0", "Malformed", TestName = "Decode_RefusesDynamicIndex_BeyondTheTable")]
    [TestCase("4085ffffffffff0161", "Malformed", TestName = "Decode_RefusesHuffman_WithEosInside")]
    [TestCase("408300000000", "Malformed", TestName = "Decode_RefusesHuffman_WithPaddingNotAllOnes")]
    [TestCase("400a6375", "Malformed", TestName = "Decode_RefusesString_CutOff")]
    [TestCase("82ff", "Malformed", TestName = "Decode_RefusesInteger_CutOff")]
    [TestCase("ffffffffff7f", "Malformed", TestName = "Decode_RefusesInteger_Overlong")]
    public void Decode_Refuses(string hex, string expected)
    {
        using var decoder = new HpackDecoder(4096);
        Decode(decoder, hex, out var status);
        Assert.That(status.ToString(), Is.EqualTo(expected));
    }

    [Test]
    public void Decode_SizeUpdateToZero_EmptiesTheTable()
    {
        using var decoder = new HpackDecoder(4096);
        DecodeOk(decoder, "828684410f7777772e6578616d706c652e636f6d");
        DecodeOk(decoder, "20");
        Assert.That(decoder.Table.Count, Is.Zero);
        Decode(decoder, "be", out var status);
        Assert.That(status, Is.EqualTo(HpackStatus.Malformed));
    }

    [Test]
    public void Decode_StopsAtTheSizeLimit_WhenOneBigEntryIsReferencedOverAndOver()
    {
        // A 4 000-byte entry costs one byte per reference: the decoded size, not the input size, must stop it.
        using var decoder = new HpackDecoder(4096);
        var block = new List<byte> { 0x40, 0x01, (byte)'x', 0x7F };
        var length = 3990;
        var rest = length - 127;
        block.Add((byte)(rest % 128 | 0x80));
        block.Add((byte)(rest / 128));
        block.AddRange(Enumerable.Repeat((byte)'a', length));
        block.AddRange(Enumerable.Repeat((byte)0xBE, 1000));
        var fields = new HeaderFieldList(32 * 1024);
        Assert.That(decoder.Decode(block.ToArray(), fields), Is.EqualTo(HpackStatus.TooLarge));
        Assert.That(fields.Count, Is.LessThanOrEqualTo(9));
        fields.Release();
    }

    [Test]
    public void Decode_ManyInsertions_CompactTheTableAndKeepTheNewestEntries()
    {
        using var decoder = new HpackDecoder(4096);
        for (var i = 0; i < 2000; i++)
        {
            var value = $"value-{i}-" + new string('v', i % 300);
            var hex = "40" + "05" + Convert.ToHexString("x-key"u8) + EncodeLength(value.Length) + Convert.ToHexString(Encoding.ASCII.GetBytes(value));
            DecodeOk(decoder, hex);
            var newest = DecodeOk(decoder, "be");
            Assert.That(newest, Is.EqualTo(new[] { ("x-key", value) }));
            Assert.That(decoder.Table.Size, Is.LessThanOrEqualTo(4096));
        }
    }

    private static string EncodeLength(int length)
    {
        Span<byte> buffer = stackalloc byte[8];
        var written = HpackInteger.Write(buffer, length, 7, 0);
        return Convert.ToHexString(buffer[..written]);
    }

    [TestCase(":method", "GET", "82")]
    [TestCase(":path", "/", "84")]
    [TestCase(":path", "/p/https://a.example/", null)]
    [TestCase("accept-encoding", "gzip, deflate", "90")]
    [TestCase("user-agent", "curl/8", null)]
    [TestCase("x-custom", "value", null)]
    [TestCase("x-empty", "", null)]
    public void Encode_RoundTripsThroughTheDecoder_WithoutTouchingTheDynamicTable(string name, string value, string? exact)
    {
        var buffer = new byte[HpackEncoder.MaxFieldLength(name.Length, value.Length)];
        var written = HpackEncoder.WriteField(buffer, Encoding.ASCII.GetBytes(name), Encoding.ASCII.GetBytes(value), 0, neverIndexed: false);
        using var decoder = new HpackDecoder(4096);
        var fields = DecodeOk(decoder, Convert.ToHexString(buffer, 0, written));
        Assert.Multiple(() =>
        {
            Assert.That(fields, Is.EqualTo(new[] { (name, value) }));
            Assert.That(decoder.Table.Count, Is.Zero);
            if (exact is not null)
            {
                Assert.That(Convert.ToHexString(buffer, 0, written), Is.EqualTo(exact).IgnoreCase);
            }
        });
    }

    [Test]
    public void Encode_KeepsNeverIndexed()
    {
        var buffer = new byte[64];
        var written = HpackEncoder.WriteField(buffer, "authorization"u8, "secret"u8, 0, neverIndexed: true);
        var fields = new HeaderFieldList(1024);
        using var decoder = new HpackDecoder(4096);
        Assert.That(decoder.Decode(buffer.AsSpan(0, written), fields), Is.EqualTo(HpackStatus.Ok));
        Assert.That(fields[0].NeverIndexed, Is.True);
        fields.Release();
    }

    [TestCase(0)]
    [TestCase(30)]
    [TestCase(31)]
    [TestCase(127)]
    [TestCase(128)]
    [TestCase(1337)]
    [TestCase(1 << 20)]
    public void Integer_RoundTrips_ForEveryPrefix(int value)
    {
        for (var prefix = 4; prefix <= 7; prefix++)
        {
            var buffer = new byte[HpackInteger.MaxLength];
            var written = HpackInteger.Write(buffer, value, prefix, 0);
            var pos = 0;
            Assert.That(HpackInteger.TryRead(buffer.AsSpan(0, written), ref pos, prefix, out var read), Is.True);
            Assert.That((read, pos), Is.EqualTo((value, written)));
        }
    }
}
