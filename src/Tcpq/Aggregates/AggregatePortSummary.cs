using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Aggregates;

/// <summary>A listener's aggregates as the <see cref="PortSummary"/> the diagnosis rules read, so
/// that a source with no connection stream (the kernel's aggregates) gets the same findings in the
/// same words. What aggregates cannot know is left empty: no slowest connections, no connections
/// still open or expired; the share of time the accept queue was full is the share of readings
/// that found it full (sampled at the reader's interval).</summary>
public static class AggregatePortSummary
{
    public static PortSummary Build(ListenerAggregate a, DropReasons reasons, double spanSeconds, double queueFullShare)
    {
        Dictionary<string, long> Named(IEnumerable<KeyValuePair<uint, long>> counts)
        {
            var named = new Dictionary<string, long>();
            foreach (var (reason, n) in counts) named[reasons.Name(reason)] = named.GetValueOrDefault(reasons.Name(reason)) + n;
            return named.OrderByDescending(d => d.Value).ToDictionary(d => d.Key, d => d.Value);
        }
        long ackDrops = a.AckDrops.Values.Sum();
        long acceptQueueDrops = a.SynDrops.GetValueOrDefault(DropReasons.AcceptQueueFull) + ackDrops;
        long aborted = a.Aborts.Where(x => x.Key != DropReasons.ChildDiscarded).Sum(x => x.Value);
        long arrivals = a.Syns - a.SynRetries;
        double span = Math.Max(spanSeconds, 0.001);
        return new PortSummary(
            a.Key.AddressText, a.Key.Port, a.Key.NetNs, IsOther: false,
            Connections: arrivals, Established: a.Handshakes, Accepted: a.Accepts, Aborted: aborted, BeganBeforeTrace: 0,
            Expired: 0, Evicted: 0, StillOpen: 0, EstablishedNotAccepted: Math.Max(0, a.Handshakes - a.Accepts - aborted),
            Syns: a.Syns, Arrivals: arrivals, Retries: a.SynRetries, SynAckRetrans: a.SynAckRetransmits, Cookies: a.SynCookies,
            AcceptQueueDrops: acceptQueueDrops, SynQueueDrops: a.SynDrops.GetValueOrDefault(DropReasons.SynQueueFull), AckDrops: ackDrops,
            Drops: Named(a.SynDrops.Concat(a.AckDrops)), SynDrops: Named(a.SynDrops), Aborts: Named(a.Aborts),
            Handshake: Latency(a.Handshake), QueueWait: Latency(a.QueueWait), Total: Latency(a.SynToAccept),
            SpanSeconds: span, ArrivalRate: arrivals / span, AcceptRate: a.Accepts / span,
            PeakQ: a.PeakQ, PeakQ0: a.PeakQ0, QMax: a.QMax, QueueFullShare: queueFullShare,
            Slowest: []);
    }

    /// <summary>Percentiles as the upper bounds of their power-of-two buckets (at most twice the true value).</summary>
    public static LatencySummary Latency(Log2Histogram h)
    {
        long P(double p) => (long)Math.Min(h.PercentileUpperBoundUs(p), (ulong)LatencyHistogram.HighestUs);
        var buckets = new long[LatencyHistogram.BucketBoundsUs.Length + 1];
        var counts = h.Counts;
        for (int k = 0; k < counts.Length; k++)
        {
            if (counts[k] == 0) continue;
            // the bucket's lower bound places it in the chart's coarser buckets
            ulong lower = k == 0 ? 0 : 1UL << (k - 1);
            int i = 0;
            while (i < LatencyHistogram.BucketBoundsUs.Length && lower >= (ulong)LatencyHistogram.BucketBoundsUs[i]) i++;
            buckets[i] += counts[k];
        }
        return new LatencySummary(h.Count, P(50), P(90), P(99), P(100), buckets);
    }
}
