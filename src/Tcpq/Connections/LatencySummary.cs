using HdrHistogram;

namespace Tcpq.Connections;

/// <summary>Count, percentiles and maximum in microseconds, and the bucket counts for a chart.</summary>
public sealed record LatencySummary(long Count, long P50, long P90, long P99, long Max, long[] Buckets);
