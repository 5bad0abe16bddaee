using Tcpq.Aggregates;
using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Top;

/// <summary>What one screen of <c>tcpq top</c> shows: the rows, in order, and what they cover.</summary>
public sealed record TopFrame(
    DateTime TimeUtc, double IntervalSeconds, IReadOnlyList<TopRow> Rows, TopSort Sort, bool Reversed,
    ulong LostEvents, long ListenersOverflowed)
{
    /// <summary>The .NET processes joined (<see cref="TopApps"/>), a line each.</summary>
    public IReadOnlyList<AppLine> AppLines { get; init; } = [];
}

/// <summary>Turns two readings of the aggregates into rows: rates are the difference over the
/// time between them, latency percentiles those of the interval's connections alone.</summary>
public static class TopView
{
    public static TopFrame Frame(TopReading? previous, TopReading current, DropReasons reasons,
        IReadOnlyDictionary<ListenerKey, Finding>? findings, TopSort sort, bool reversed) =>
        new(current.TimeUtc,
            previous is null ? 0 : Seconds(previous, current),
            Sorted(Rows(previous, current, reasons, findings), sort, reversed),
            sort, reversed, current.LostEvents, current.ListenersOverflowed)
        {
            AppLines = TopApps.Lines(previous?.Apps, current.Apps),
        };

    public static List<TopRow> Rows(TopReading? previous, TopReading current, DropReasons reasons, IReadOnlyDictionary<ListenerKey, Finding>? findings)
    {
        double seconds = previous is null ? 0 : Seconds(previous, current);
        var rows = new List<TopRow>(current.Listeners.Count);
        foreach (var (key, now) in current.Listeners)
        {
            var before = previous?.Listeners.GetValueOrDefault(key);
            double Rate(Func<ListenerReading, long> counter) =>
                seconds <= 0 ? 0 : Math.Max(0, counter(now) - (before is null ? 0 : counter(before))) / seconds;

            var drops = new List<(string, double)>();
            double allDrops = 0;
            foreach (var (reason, n) in now.Drops.OrderByDescending(d => d.Value).ThenBy(d => d.Key))
            {
                double perSecond = seconds <= 0 ? 0 : Math.Max(0, n - (before?.Drops.GetValueOrDefault(reason) ?? 0)) / seconds;
                if (perSecond <= 0) continue;
                drops.Add((reasons.Name(reason), perSecond));
                allDrops += perSecond;
            }
            drops.Sort((a, b) => b.Item2.CompareTo(a.Item2));

            var handshake = Interval(now.Handshake, before?.Handshake);
            var wait = Interval(now.QueueWait, before?.QueueWait);
            rows.Add(new TopRow(key,
                Rate(r => r.Arrivals), Rate(r => r.Accepts),
                now.Q, now.QMax, now.PeakQ, now.Q0,
                allDrops, drops, Rate(r => r.SynCookies),
                Percentile(handshake, 50), Percentile(handshake, 99),
                Percentile(wait, 50), Percentile(wait, 99),
                findings?.GetValueOrDefault(key)) { Workload = current.Workloads.GetValueOrDefault(key) });
        }
        return rows;
    }

    private static double Seconds(TopReading previous, TopReading current) =>
        current.MonotonicNs > previous.MonotonicNs ? (current.MonotonicNs - previous.MonotonicNs) / 1e9 : 0;

    /// <summary>The interval's own histogram: the buckets' difference.</summary>
    private static Log2Histogram Interval(long[] now, long[]? before)
    {
        var delta = new long[now.Length];
        long count = 0;
        for (int i = 0; i < now.Length; i++)
        {
            delta[i] = Math.Max(0, now[i] - (before is not null && i < before.Length ? before[i] : 0));
            count += delta[i];
        }
        var h = new Log2Histogram();
        h.Add(delta, count, 0);
        return h;
    }

    private static ulong? Percentile(Log2Histogram h, double p) => h.Count == 0 ? null : h.PercentileUpperBoundUs(p);

    /// <summary>By the chosen column, largest first (the listener column: by port); ties, and
    /// <see cref="TopSort.Worst"/>, by how bad the listener looks.</summary>
    public static List<TopRow> Sorted(IEnumerable<TopRow> rows, TopSort sort, bool reversed)
    {
        var sorted = rows.ToList();
        sorted.Sort((a, b) =>
        {
            int c = sort == TopSort.Listener ? ByListener(a, b) : -Key(a, sort).CompareTo(Key(b, sort));
            return c != 0 ? c : CompareWorstFirst(a, b);
        });
        if (reversed) sorted.Reverse();
        return sorted;
    }

    private static double Key(TopRow r, TopSort sort) => sort switch
    {
        TopSort.Arrivals => r.ArrivalsPerSecond,
        TopSort.Accepts => r.AcceptsPerSecond,
        TopSort.Queue => r.Q,
        TopSort.Peak => r.PeakQ,
        TopSort.Drops => r.DropsPerSecond,
        TopSort.Cookies => r.CookiesPerSecond,
        TopSort.Handshake => r.HandshakeP99Us ?? 0,
        TopSort.Wait => r.WaitP99Us ?? 0,
        _ => 0,
    };

    /// <summary>Worst first: what the diagnosis says (critical, warning), then drops now, then how
    /// full the accept queue is, then the queue wait, then traffic; then by port.</summary>
    public static int CompareWorstFirst(TopRow a, TopRow b)
    {
        int c = SeverityOf(b).CompareTo(SeverityOf(a));
        if (c == 0) c = b.DropsPerSecond.CompareTo(a.DropsPerSecond);
        if (c == 0) c = b.Fill.CompareTo(a.Fill);
        if (c == 0) c = (b.WaitP99Us ?? 0).CompareTo(a.WaitP99Us ?? 0);
        if (c == 0) c = b.ArrivalsPerSecond.CompareTo(a.ArrivalsPerSecond);
        return c != 0 ? c : ByListener(a, b);
    }

    private static int SeverityOf(TopRow r) => r.Finding is { } f ? (int)f.Severity : -1;

    private static int ByListener(TopRow a, TopRow b)
    {
        int c = a.IsOther.CompareTo(b.IsOther);
        if (c == 0) c = a.Key.Port.CompareTo(b.Key.Port);
        if (c == 0) c = a.Key.NetNs.CompareTo(b.Key.NetNs);
        return c != 0 ? c : string.CompareOrdinal(a.Key.AddressText, b.Key.AddressText);
    }
}
