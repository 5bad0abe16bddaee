using System.Numerics;

namespace Tcpq.Aggregates;

/// <summary>Durations in power-of-two microsecond buckets, as the kernel side can keep them per
/// CPU without division: bucket k holds values in [2^(k-1), 2^k) µs (bucket 0: under 1 µs), the
/// last one everything from 2^(Buckets-2) µs (~17 min) up. Plus the count and the sum, so that an
/// exporter can give a Prometheus histogram and a mean; the bucket bounds are exact, a percentile
/// read from them is within a factor of two (the exporter says so).</summary>
public sealed class Log2Histogram
{
    public const int Buckets = 32;

    private readonly long[] _counts = new long[Buckets];

    public long Count { get; private set; }
    public ulong SumNs { get; private set; }
    public ReadOnlySpan<long> Counts => _counts;

    /// <summary>The bucket of a duration: the same arithmetic as the kernel side's.</summary>
    public static int BucketOf(ulong ns)
    {
        ulong us = ns / 1000;
        int k = us == 0 ? 0 : 64 - BitOperations.LeadingZeroCount(us);
        return Math.Min(k, Buckets - 1);
    }

    /// <summary>The upper bound of bucket <paramref name="k"/> in µs (exclusive); the last is unbounded.</summary>
    public static ulong UpperBoundUs(int k) => k >= Buckets - 1 ? ulong.MaxValue : 1UL << k;

    public void RecordNs(ulong ns)
    {
        _counts[BucketOf(ns)]++;
        Count++;
        SumNs += ns;
    }

    /// <summary>Adds counts read from elsewhere (the kernel's per-CPU buckets).</summary>
    public void Add(ReadOnlySpan<long> counts, long count, ulong sumNs)
    {
        for (int i = 0; i < Math.Min(counts.Length, Buckets); i++) _counts[i] += counts[i];
        Count += count;
        SumNs += sumNs;
    }

    /// <summary>The upper bound (µs) of the bucket holding the given percentile (0..100): an upper
    /// estimate, at most twice the true value. 0 when empty.</summary>
    public ulong PercentileUpperBoundUs(double percentile)
    {
        if (Count == 0) return 0;
        long rank = (long)Math.Ceiling(percentile / 100 * Count);
        long seen = 0;
        for (int k = 0; k < Buckets; k++)
        {
            seen += _counts[k];
            if (seen >= Math.Max(rank, 1)) return UpperBoundUs(k);
        }
        return UpperBoundUs(Buckets - 1);
    }
}
