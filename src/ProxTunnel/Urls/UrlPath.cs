using System.Buffers;

namespace ProxTunnel.Urls;

/// <summary>
/// The path and query of an http(s) URL in canonical form, as the WHATWG URL Standard's path parser makes it for special
/// schemes: <c>/</c> and <c>\</c> separate segments; <c>.</c>, <c>..</c> and their <c>%2e</c> forms (any case) are
/// resolved and <c>..</c> never climbs above the root; an empty path is <c>/</c>; <c>?</c> ends the path; a fragment
/// (<c>#</c> onwards, which a client never sends a server) is dropped. Every other byte is copied verbatim, never
/// decoded or re-encoded. After this no segment is one Kestrel would treat as a dot segment once it has percent-decoded
/// the path (it decodes everything but <c>%2F</c>, then removes dot segments over the whole path), so a prefixed
/// target cannot climb out of <c>&lt;prefix&gt;&lt;scheme&gt;://&lt;host&gt;</c>.
/// </summary>
internal static class UrlPath
{
    private static readonly SearchValues<byte> Separators = SearchValues.Create("/\\"u8);

    /// <summary>Bytes that can start a dot segment, or are a separator other than "/".</summary>
    private static readonly SearchValues<byte> Unusual = SearchValues.Create(".%\\"u8);

    /// <summary><see cref="Unusual"/> and the bytes that end the path: the query's <c>?</c> and the fragment's <c>#</c>.</summary>
    private static readonly SearchValues<byte> UnusualOrPathEnd = SearchValues.Create(".%\\?#"u8);

    private static readonly SearchValues<byte> SegmentEnd = SearchValues.Create("/?#"u8);

    /// <summary><see cref="Unusual"/> and the fragment's <c>#</c>: a path and query with none of them is canonical.</summary>
    private static readonly SearchValues<byte> UnusualOrFragment = SearchValues.Create(".%\\#"u8);

    /// <summary>
    /// True when <see cref="Write"/> would copy <paramref name="pathAndQuery"/> unchanged: it starts with <c>/</c>, has
    /// no fragment, no backslash and no dot segment in its path. A target with no <c>.</c>, <c>%</c>, <c>\</c> or <c>#</c>
    /// costs one vectorized search; any other one search up to the query and one for a <c>#</c> in it.
    /// </summary>
    public static bool IsCanonical(ReadOnlySpan<byte> pathAndQuery)
    {
        if (pathAndQuery.IsEmpty || pathAndQuery[0] != (byte)'/')
        {
            return false;
        }

        if (!pathAndQuery.ContainsAny(UnusualOrFragment))
        {
            // Many targets: nothing that could start a dot segment anywhere, in one search.
            return true;
        }

        var offset = 0;
        while (true)
        {
            var found = pathAndQuery[offset..].IndexOfAny(UnusualOrPathEnd);
            if (found < 0)
            {
                return true;
            }

            offset += found;
            switch (pathAndQuery[offset])
            {
                case (byte)'?':
                    return !pathAndQuery[offset..].Contains((byte)'#');
                case (byte)'#' or (byte)'\\':
                    return false;
            }

            if (pathAndQuery[offset - 1] == (byte)'/')
            {
                var segment = pathAndQuery[offset..];
                var end = segment.IndexOfAny(SegmentEnd);
                if (DotSegment(end < 0 ? segment : segment[..end]) != 0)
                {
                    return false;
                }
            }

            offset++;
        }
    }

    /// <summary>Length of what <see cref="Write"/> writes for <paramref name="pathAndQuery"/>.</summary>
    public static int CanonicalLength(ReadOnlySpan<byte> pathAndQuery)
    {
        Split(pathAndQuery, out var body, out var query);
        return (NeedsResolving(body) ? Resolve(body, []) : body.Length + 1) + query.Length;
    }

    /// <summary>Writes the canonical path and query; <paramref name="destination"/> holds at least
    /// <see cref="CanonicalLength"/> bytes.</summary>
    public static int Write(ReadOnlySpan<byte> pathAndQuery, Span<byte> destination)
    {
        Split(pathAndQuery, out var body, out var query);
        if (!NeedsResolving(body))
        {
            // The common case: "/" and the bytes as they came, in one copy.
            destination[0] = (byte)'/';
            body.CopyTo(destination[1..]);
            query.CopyTo(destination[(1 + body.Length)..]);
            return 1 + body.Length + query.Length;
        }

        var pathLength = Resolve(body, []);
        Resolve(body, destination[..pathLength]);
        query.CopyTo(destination[pathLength..]);
        return pathLength + query.Length;
    }

    /// <summary>The path as the canonical segments it resolves to, for matching (the proxy host's own pages): like
    /// <see cref="Write"/>, and then percent-encoded unreserved characters (<c>%64</c> for <c>d</c>) decoded.</summary>
    public static int WriteForMatching(ReadOnlySpan<byte> pathAndQuery, Span<byte> destination)
    {
        Split(pathAndQuery, out var body, out _);
        var length = Write(body, destination);
        var written = 0;
        for (var i = 0; i < length; i++)
        {
            var c = destination[i];
            if (c == (byte)'%' && i + 2 < length && char.IsAsciiHexDigit((char)destination[i + 1]) && char.IsAsciiHexDigit((char)destination[i + 2]))
            {
                var decoded = (byte)(HexValue(destination[i + 1]) << 4 | HexValue(destination[i + 2]));
                if (char.IsAsciiLetterOrDigit((char)decoded) || decoded is (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~')
                {
                    destination[written++] = decoded;
                    i += 2;
                    continue;
                }
            }

            destination[written++] = c;
        }

        return written;
    }

    /// <summary>True when the path holds a backslash or a dot segment: anything <see cref="Write"/> would change
    /// besides the leading "/". One vectorized search per '.', '%' or backslash in the path; most end at once.</summary>
    private static bool NeedsResolving(ReadOnlySpan<byte> body)
    {
        var offset = 0;
        while (true)
        {
            var found = body[offset..].IndexOfAny(Unusual);
            if (found < 0)
            {
                return false;
            }

            offset += found;
            if (body[offset] == (byte)'\\')
            {
                return true;
            }

            if (offset == 0 || body[offset - 1] == (byte)'/')
            {
                var segment = body[offset..];
                var end = segment.IndexOf((byte)'/');
                if (DotSegment(end < 0 ? segment : segment[..end]) != 0)
                {
                    return true;
                }
            }

            offset++;
        }
    }

    /// <summary>Path without the leading separator, and query with its <c>?</c>; the fragment is cut off.</summary>
    private static void Split(ReadOnlySpan<byte> pathAndQuery, out ReadOnlySpan<byte> body, out ReadOnlySpan<byte> query)
    {
        var hash = pathAndQuery.IndexOf((byte)'#');
        if (hash >= 0)
        {
            pathAndQuery = pathAndQuery[..hash];
        }

        var question = pathAndQuery.IndexOf((byte)'?');
        var path = question < 0 ? pathAndQuery : pathAndQuery[..question];
        query = question < 0 ? [] : pathAndQuery[question..];

        // WHATWG's path start state: a leading separator is consumed; without one the first segment starts at once.
        body = path.Length > 0 && path[0] is (byte)'/' or (byte)'\\' ? path[1..] : path;
    }

    /// <summary>
    /// Resolves the segments right to left, so a ".." knows how many segments to its left it removes without a stack,
    /// and returns the length of <c>"/" + join(kept segments, "/")</c>. Given a destination of exactly that length, it
    /// also writes them there, from the end.
    /// </summary>
    private static int Resolve(ReadOnlySpan<byte> body, Span<byte> destination)
    {
        var length = 0;
        var skip = 0;
        var isLast = true;
        var rest = body;
        while (true)
        {
            var separator = rest.LastIndexOfAny(Separators);
            var segment = rest[(separator + 1)..];
            var dots = DotSegment(segment);
            if (dots != 0)
            {
                // A final "." or ".." leaves the path ending in "/", as a directory.
                if (isLast)
                {
                    Emit([], ref length, destination);
                }

                skip += dots - 1;
            }
            else if (skip > 0)
            {
                skip--;
            }
            else
            {
                Emit(segment, ref length, destination);
            }

            if (separator < 0)
            {
                return length;
            }

            rest = rest[..separator];
            isLast = false;
        }
    }

    private static void Emit(ReadOnlySpan<byte> segment, ref int length, Span<byte> destination)
    {
        length += segment.Length + 1;
        if (!destination.IsEmpty)
        {
            var start = destination.Length - length;
            destination[start] = (byte)'/';
            segment.CopyTo(destination[(start + 1)..]);
        }
    }

    /// <summary>0 for an ordinary segment, 1 for <c>.</c> or <c>%2e</c>, 2 for <c>..</c>, <c>.%2e</c>, <c>%2e.</c>,
    /// <c>%2e%2e</c> (any case).</summary>
    private static int DotSegment(ReadOnlySpan<byte> segment) => segment.Length switch
    {
        1 => segment[0] == (byte)'.' ? 1 : 0,
        2 => segment[0] == (byte)'.' && segment[1] == (byte)'.' ? 2 : 0,
        3 => IsEncodedDot(segment) ? 1 : 0,
        4 => segment[0] == (byte)'.' && IsEncodedDot(segment[1..]) || IsEncodedDot(segment) && segment[3] == (byte)'.' ? 2 : 0,
        6 => IsEncodedDot(segment) && IsEncodedDot(segment[3..]) ? 2 : 0,
        _ => 0,
    };

    private static bool IsEncodedDot(ReadOnlySpan<byte> text) => text[0] == (byte)'%' && text[1] == (byte)'2' && (text[2] | 0x20) == (byte)'e';

    private static int HexValue(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
