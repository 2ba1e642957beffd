namespace ProxTunnel.Rewriting;

/// <summary>Offsets of one header line inside a request head.</summary>
internal struct HeaderLine
{
    public int Start;
    public int NameLength;
    // The value, possibly with the white space around it: read it through RequestHead.Value, which trims it (most
    // values are never read, so the parser does not).
    public int ValueStart;
    public int ValueLength;

    /// <summary>Offset just past the line's CRLF.</summary>
    public int End;

    /// <summary>Dropped from the rewritten head (<c>Proxy-Authorization</c>, <c>Proxy-Connection</c>).</summary>
    public bool Remove;
}
