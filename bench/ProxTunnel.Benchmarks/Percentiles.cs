namespace ProxTunnel.Benchmarks;

/// <summary>Nearest-rank percentiles of sorted samples, as the harness tables report them.</summary>
internal static class Percentiles
{
    /// <summary>The <paramref name="p"/> (0–1) percentile of <paramref name="sorted"/>; NaN when it is empty.</summary>
    public static double Of(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
