using HdrHistogram;

namespace Tcpq.Connections;

/// <summary>Durations in microseconds, from 1 µs to an hour with two significant digits (±1 %),
/// in an HdrHistogram: a fixed few kilobytes whatever the count. The maximum is kept exactly.</summary>
public sealed class LatencyHistogram
{
    public const long HighestUs = 3_600_000_000;
    private readonly LongHistogram _h = new(HighestUs, 2);

    public long Count => _h.TotalCount;
    public long MaxUs { get; private set; }

    public void RecordNs(ulong ns)
    {
        long us = (long)Math.Min(ns / 1000, HighestUs);
        _h.RecordValue(us);
        if (us > MaxUs) MaxUs = us;
    }

    /// <summary>The value at <paramref name="percentile"/> (0..100), never above the true maximum.</summary>
    public long PercentileUs(double percentile) => Count == 0 ? 0 : Math.Min(_h.GetValueAtPercentile(percentile), MaxUs);

    public LatencySummary Summary() => new(Count, PercentileUs(50), PercentileUs(90), PercentileUs(99), MaxUs, Buckets());

    /// <summary>Counts per decade-ish bucket, for a bar chart: the upper bounds of <see cref="BucketBoundsUs"/>.</summary>
    private long[] Buckets()
    {
        var counts = new long[BucketBoundsUs.Length + 1];
        if (Count == 0) return counts;
        foreach (var v in _h.RecordedValues())
        {
            long value = _h.MedianEquivalentValue(v.ValueIteratedTo);
            int i = 0;
            while (i < BucketBoundsUs.Length && value >= BucketBoundsUs[i]) i++;
            counts[i] += v.CountAtValueIteratedTo;
        }
        return counts;
    }

    /// <summary>Bucket edges: &lt;1 ms, 1–10 ms, 10–100 ms, 0.1–1 s, 1–3 s, 3–10 s, ≥10 s (SYN
    /// retries land at 1, 3, 7, 15 s: the buckets split them apart).</summary>
    public static readonly long[] BucketBoundsUs = [1_000, 10_000, 100_000, 1_000_000, 3_000_000, 10_000_000];
}
