using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Benchmarks.Rewriting;

/// <summary>
/// The stages of one browser head in the rewriter, each alone (find the end, parse, route, write), so a change to one
/// stage shows in its own row; <see cref="RewriterBenchmarks"/> measures them together through the reader.
/// </summary>
[MemoryDiagnoser]
public class HeadStageBenchmarks
{
    private readonly byte[] _head = Encoding.ASCII.GetBytes(RewriterBenchmarks.TunnelHead);
    private readonly RequestHead _parsed = new();
    private readonly byte[] _output = new byte[4096];
    private RewriteSettings _settings = null!;
    private TunnelTarget _tunnel = null!;
    private int _requestLineEnd;

    [GlobalSetup]
    public void Setup()
    {
        _settings = new RewriteSettings(new ProxyTunnelOptions { Prefix = "/prefix/" }, pages: null, NullLogger.Instance);
        _tunnel = new TunnelTarget(true, "example.com", 443, new Dictionary<string, string>());
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

    [Benchmark]
    public int Parse() => (int)RequestHeadParser.Parse(_head, _requestLineEnd, _parsed);

    [Benchmark]
    public int Route() => (int)RequestRouter.Route(_head, _parsed, _tunnel, 0, _settings).Kind;

    [Benchmark]
    public int Write()
    {
        var route = RequestRouter.Route(_head, _parsed, _tunnel, 0, _settings);
        var plan = new HeadPlan(_head, _parsed, TargetShape.Prefixed, _settings.FixedPrefix, _head.AsSpan()[route.Host], _head.AsSpan()[route.PathAndQuery], route.Https, route.Port, _tunnel);
        return HeadWriter.Write(_output, _head, _parsed, plan);
    }
}
