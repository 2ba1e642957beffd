namespace ProxTunnel.Http2;

/// <summary>The HPACK static table, RFC 7541 Appendix A (index 1..61), with a name lookup by length for the encoder.</summary>
internal static class HpackStaticTable
{
    public const int Count = 61;

    public const int Authority = 1;
    public const int Method = 2;
    public const int Path = 4;

    private static readonly Entry[] Entries =
    [
        default,
        new(":authority"u8.ToArray(), ""u8.ToArray()),
        new(":method"u8.ToArray(), "GET"u8.ToArray()),
        new(":method"u8.ToArray(), "POST"u8.ToArray()),
        new(":path"u8.ToArray(), "/"u8.ToArray()),
        new(":path"u8.ToArray(), "/index.html"u8.ToArray()),
        new(":scheme"u8.ToArray(), "http"u8.ToArray()),
        new(":scheme"u8.ToArray(), "https"u8.ToArray()),
        new(":status"u8.ToArray(), "200"u8.ToArray()),
        new(":status"u8.ToArray(), "204"u8.ToArray()),
        new(":status"u8.ToArray(), "206"u8.ToArray()),
        new(":status"u8.ToArray(), "304"u8.ToArray()),
        new(":status"u8.ToArray(), "400"u8.ToArray()),
        new(":status"u8.ToArray(), "404"u8.ToArray()),
        new(":status"u8.ToArray(), "500"u8.ToArray()),
        new("accept-charset"u8.ToArray(), ""u8.ToArray()),
        new("accept-encoding"u8.ToArray(), "gzip, deflate"u8.ToArray()),
        new("accept-language"u8.ToArray(), ""u8.ToArray()),
        new("accept-ranges"u8.ToArray(), ""u8.ToArray()),
        new("accept"u8.ToArray(), ""u8.ToArray()),
        new("access-control-allow-origin"u8.ToArray(), ""u8.ToArray()),
        new("age"u8.ToArray(), ""u8.ToArray()),
        new("allow"u8.ToArray(), ""u8.ToArray()),
        new("authorization"u8.ToArray(), ""u8.ToArray()),
        new("cache-control"u8.ToArray(), ""u8.ToArray()),
        new("content-disposition"u8.ToArray(), ""u8.ToArray()),
        new("content-encoding"u8.ToArray(), ""u8.ToArray()),
        new("content-language"u8.ToArray(), ""u8.ToArray()),
        new("content-length"u8.ToArray(), ""u8.ToArray()),
        new("content-location"u8.ToArray(), ""u8.ToArray()),
        new("content-range"u8.ToArray(), ""u8.ToArray()),
        new("content-type"u8.ToArray(), ""u8.ToArray()),
        new("cookie"u8.ToArray(), ""u8.ToArray()),
        new("date"u8.ToArray(), ""u8.ToArray()),
        new("etag"u8.ToArray(), ""u8.ToArray()),
        new("expect"u8.ToArray(), ""u8.ToArray()),
        new("expires"u8.ToArray(), ""u8.ToArray()),
        new("from"u8.ToArray(), ""u8.ToArray()),
        new("host"u8.ToArray(), ""u8.ToArray()),
        new("if-match"u8.ToArray(), ""u8.ToArray()),
        new("if-modified-since"u8.ToArray(), ""u8.ToArray()),
        new("if-none-match"u8.ToArray(), ""u8.ToArray()),
        new("if-range"u8.ToArray(), ""u8.ToArray()),
        new("if-unmodified-since"u8.ToArray(), ""u8.ToArray()),
        new("last-modified"u8.ToArray(), ""u8.ToArray()),
        new("link"u8.ToArray(), ""u8.ToArray()),
        new("location"u8.ToArray(), ""u8.ToArray()),
        new("max-forwards"u8.ToArray(), ""u8.ToArray()),
        new("proxy-authenticate"u8.ToArray(), ""u8.ToArray()),
        new("proxy-authorization"u8.ToArray(), ""u8.ToArray()),
        new("range"u8.ToArray(), ""u8.ToArray()),
        new("referer"u8.ToArray(), ""u8.ToArray()),
        new("refresh"u8.ToArray(), ""u8.ToArray()),
        new("retry-after"u8.ToArray(), ""u8.ToArray()),
        new("server"u8.ToArray(), ""u8.ToArray()),
        new("set-cookie"u8.ToArray(), ""u8.ToArray()),
        new("strict-transport-security"u8.ToArray(), ""u8.ToArray()),
        new("transfer-encoding"u8.ToArray(), ""u8.ToArray()),
        new("user-agent"u8.ToArray(), ""u8.ToArray()),
        new("vary"u8.ToArray(), ""u8.ToArray()),
        new("via"u8.ToArray(), ""u8.ToArray()),
        new("www-authenticate"u8.ToArray(), ""u8.ToArray()),
    ];

    // Indexes of the first entry of each distinct name, bucketed by name length: a literal name is compared with a
    // handful of candidates, never hashed (no allocation, no string).
    private static readonly int[][] NamesByLength = BuildNameIndex();

    public static ReadOnlySpan<byte> Name(int index) => Entries[index].Name;

    public static ReadOnlySpan<byte> Value(int index) => Entries[index].Value;

    /// <summary>The first static index whose name is <paramref name="name"/>, or 0.</summary>
    public static int FindName(ReadOnlySpan<byte> name)
    {
        if (name.Length >= NamesByLength.Length)
        {
            return 0;
        }

        foreach (var index in NamesByLength[name.Length])
        {
            if (name.SequenceEqual(Entries[index].Name))
            {
                return index;
            }
        }

        return 0;
    }

    /// <summary>The static index holding exactly this name (given by its first index) and value, or 0.</summary>
    public static int FindField(int nameIndex, ReadOnlySpan<byte> value)
    {
        if (nameIndex == 0 || value.IsEmpty && Entries[nameIndex].Value.Length != 0)
        {
            return 0;
        }

        var name = Entries[nameIndex].Name;
        for (var index = nameIndex; index <= Count && Entries[index].Name.AsSpan().SequenceEqual(name); index++)
        {
            if (value.SequenceEqual(Entries[index].Value))
            {
                return index;
            }
        }

        return 0;
    }

    private static int[][] BuildNameIndex()
    {
        var buckets = new List<int>[32];
        for (var i = 0; i < buckets.Length; i++)
        {
            buckets[i] = [];
        }

        for (var index = 1; index <= Count; index++)
        {
            var name = Entries[index].Name;
            if (index == 1 || !name.AsSpan().SequenceEqual(Entries[index - 1].Name))
            {
                buckets[name.Length].Add(index);
            }
        }

        return [.. buckets.Select(b => b.ToArray())];
    }

    private readonly record struct Entry(byte[] Name, byte[] Value);
}
