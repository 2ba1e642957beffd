using System.Text;
using BenchmarkDotNet.Attributes;
using ProxTunnel.Rewriting;

namespace ProxTunnel.Benchmarks.Rewriting;

/// <summary>
/// The URL builder's per-request work on its own: sizing and writing the canonical origin and path the way the
/// rewriter does for every proxied head (length first, then write). A browser's ordinary URL takes the fast paths
/// (host already canonical, no dot segment); the others show the cost of canonicalizing.
/// </summary>
[MemoryDiagnoser, MinColumn]
public class TargetBuilderBenchmarks
{
    private readonly byte[] _destination = new byte[1024];
    private byte[] _host = null!;
    private byte[] _path = null!;
    private byte[] _target = null!;

    [Params("example.com|/articles/2025/proxy?utm_source=feed&page=2", "0x7f.1|/a/./b/../../c/%2e%2e/d?q=1", "Example.COM.|/static/js/app.min.js")]
    public string Url { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var parts = Url.Split('|');
        _host = Encoding.ASCII.GetBytes(parts[0]);
        _path = Encoding.ASCII.GetBytes(parts[1]);
        _target = Encoding.ASCII.GetBytes("http://" + parts[0] + parts[1]);
    }

    /// <summary>Splitting an absolute-form target, as the router does for every head on a plain proxy connection.</summary>
    [Benchmark]
    public int ParseAbsolute() => (int)TargetBuilder.ParseAbsolute(_target, out _, out _, out var port, out _, out _) + port;

    /// <summary>The test that lets the writers copy the host.</summary>
    [Benchmark]
    public bool HostIsCanonical() => ProxTunnel.Urls.HostName.IsCanonical(_host);

    /// <summary>The test that lets the writers copy the path.</summary>
    [Benchmark]
    public bool PathIsCanonical() => ProxTunnel.Urls.UrlPath.IsCanonical(_path);

    /// <summary>What the builder did before canonicalization: lower-case the host, copy the path.</summary>
    [Benchmark(Baseline = true)]
    public int VerbatimCopy()
    {
        "http://"u8.CopyTo(_destination);
        System.Text.Ascii.ToLower(_host, _destination.AsSpan(7), out var written);
        written += 7;
        _path.CopyTo(_destination.AsSpan(written));
        return written + _path.Length;
    }

    [Benchmark]
    public int OriginAndPath()
    {
        var length = TargetBuilder.OriginLength(false, _host, 80) + TargetBuilder.PathAndQueryLength(_path);
        var written = TargetBuilder.WriteOrigin(_destination, false, _host, 80);
        written += TargetBuilder.WritePathAndQuery(_destination.AsSpan(written), _path);
        return length - written;
    }
}
