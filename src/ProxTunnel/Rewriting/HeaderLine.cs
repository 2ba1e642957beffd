namespace ProxTunnel.Rewriting;

/// <summary>Offsets of one header line inside a request head.</summary>
internal struct HeaderLine
{
    public int Start;
    public int NameLength;
    // The value: trimmed for the lines that frame the request or are dropped, possibly with the white space around it
    // for the others (RequestHead.Value trims it), which the hot path never reads.
    public int ValueStart;
    public int ValueLength;

    /// <summary>Offset just past the line's CRLF.</summary>
    public int End;

    /// <summary>Dropped from the rewritten head (<c>Proxy-Authorization</c>, <c>Proxy-Connection</c>).</summary>
    public bool Remove;
}
