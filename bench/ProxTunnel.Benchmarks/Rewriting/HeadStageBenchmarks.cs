using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Benchmarks.Rewriting;

/// <summary>
/// The stages of one browser head in the rewriter, each alone (find the end, parse, route, plan, write), for the
/// absolute-form head of a plain proxy connection and the origin-form head inside a TLS tunnel, so a change to one stage
/// shows in its own row; <see cref="RewriterBenchmarks"/> measures them together through the reader.
/// </summary>
[MemoryDiagnoser, MinColumn, MedianColumn]
public class HeadStageBenchmarks
{
    private readonly RequestHead _parsed = new();
    private readonly byte[] _output = new byte[4096];
    private byte[] _head = [];
    private RewriteSettings _settings = null!;
    private TunnelTarget? _tunnel;
    private int _requestLineEnd;

    /// <summary>The browser head in absolute form on a plain proxy connection, or in origin form inside a TLS tunnel.</summary>
    [Params("absolute", "tunnel")]
    public string Form { get; set; } = "tunnel";

    [GlobalSetup]
    public void Setup()
    {
        _settings = new RewriteSettings(new ProxyTunnelOptions { Prefix = "/prefix/" }, pages: null, NullLogger.Instance);
        var inTunnel = Form == "tunnel";
        _head = Encoding.ASCII.GetBytes(inTunnel ? RewriterBenchmarks.TunnelHead : RewriterBenchmarks.BrowserHead);
        _tunnel = inTunnel ? new TunnelTarget(true, "example.com", 443, new Dictionary<string, string>()) : null;
        FindHeadEnd();
        if (Parse() != (int)RejectReason.None)
        {
            throw new InvalidOperationException("head does not parse");
        }
    }

    [Benchmark]
    public int FindHeadEnd()
    {
        var lineStart = 0;
        var requestLineEnd = 0;
        var length = RequestHeadParser.FindHeadEnd(_head, ref lineStart, ref requestLineEnd, 8192, 32768, out _, _parsed);
        _requestLineEnd = requestLineEnd;
        return length;
    }

    /// <summary>Parses the head as the reader does right after <see cref="FindHeadEnd"/>, which vouches for a clean
    /// head's lines once per head (renewed here, as that scan would).</summary>
    [Benchmark]
    public int Parse()
    {
        _parsed.FoundEnd(clean: true);
        return (int)RequestHeadParser.Parse(_head, _requestLineEnd, _parsed);
    }

    [Benchmark]
    public int Route() => (int)RequestRouter.Route(_head, _parsed, _tunnel, 0, _settings).Kind;

    /// <summary>Routes, plans and writes the head; <see cref="Plan"/> is its cost without the writing.</summary>
    [Benchmark]
    public int Write()
    {
        var plan = RouteAndPlan();
        return HeadWriter.Write(_output, _head, _parsed, plan);
    }

    /// <summary>Routes and plans the head (canonical checks, Host choice) and bounds its length.</summary>
    [Benchmark]
    public int Plan() => HeadWriter.MaxLength(_head, RouteAndPlan());

    private HeadPlan RouteAndPlan()
    {
        var route = RequestRouter.Route(_head, _parsed, _tunnel, 0, _settings);
        return new HeadPlan(_head, _parsed, TargetShape.Prefixed, _settings.FixedPrefix, _head.AsSpan()[route.Host], _head.AsSpan()[route.PathAndQuery],
            route.Https, route.Port, _tunnel, route.HostIsCanonical);
    }
}
