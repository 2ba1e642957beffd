namespace ProxTunnel.Rewriting;

/// <summary>Offsets of one header line inside a request head. Its value runs from just past the colon to the CR LF, with
/// the white space around it: read it through <see cref="RequestHead.Value"/>, which trims it (most values are never
/// read, so the parser stores no bounds of its own for them).</summary>
internal struct HeaderLine
{
    public int Start;
    public int NameLength;

    /// <summary>Offset just past the line's CRLF.</summary>
    public int End;

    /// <summary>Dropped from the rewritten head (<c>Proxy-Authorization</c>, <c>Proxy-Connection</c>).</summary>
    public bool Remove;
}
