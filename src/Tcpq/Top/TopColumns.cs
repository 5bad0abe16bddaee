using System.Globalization;

namespace Tcpq.Top;

/// <summary>One column of the table: its heading, the sort it stands for (if any), its text.</summary>
/// <param name="Keep">Which columns stay when the terminal is too narrow for all: the lowest go first.</param>
public sealed record TopColumn(string Heading, TopSort? Sort, Func<TopRow, string> Text, bool Numeric = true, int Keep = 9);

/// <summary>The columns both renderers show, and how their values read: the terminal table and
/// the plain snapshots agree to the character.</summary>
public static class TopColumns
{
    public static IReadOnlyList<TopColumn> For(IReadOnlyList<TopRow> rows)
    {
        var columns = new List<TopColumn> { new("LISTENER", TopSort.Listener, r => r.Label, Numeric: false) };
        if (rows.Any(r => r.Workload is not null))
            columns.Add(new("WORKLOAD", null, r => r.Workload?.ShortText ?? "-", Numeric: false, Keep: 3));
        if (rows.Select(r => r.Key.NetNs).Distinct().Count() > 1)
            columns.Add(new("NETNS", null, r => r.IsOther ? "" : r.Key.NetNs.ToString(CultureInfo.InvariantCulture), Keep: 3));
        columns.AddRange(
        [
            new("ARR/s", TopSort.Arrivals, r => Rate(r.ArrivalsPerSecond)),
            new("ACC/s", TopSort.Accepts, r => Rate(r.AcceptsPerSecond)),
            new("Q", TopSort.Queue, r => Count(r.Q)),
            new("QMAX", null, r => Count(r.QMax)),
            new("PEAK", TopSort.Peak, r => Count(r.PeakQ), Keep: 5),
            new("Q0", null, r => Count(r.Q0), Keep: 1),
            new("DROP/s", TopSort.Drops, r => Rate(r.DropsPerSecond)),
            new("COOKIE/s", TopSort.Cookies, r => Rate(r.CookiesPerSecond), Keep: 4),
            new("HS p50", null, r => Latency(r.HandshakeP50Us), Keep: 2),
            new("HS p99", TopSort.Handshake, r => Latency(r.HandshakeP99Us), Keep: 6),
            new("WAIT p50", null, r => Latency(r.WaitP50Us), Keep: 2),
            new("WAIT p99", TopSort.Wait, r => Latency(r.WaitP99Us), Keep: 7),
            new("DROPS BY REASON", null, r => Reasons(r), Numeric: false, Keep: 5),
        ]);
        return columns;
    }

    /// <summary>The columns that fit in <paramref name="width"/> cells, each
    /// <paramref name="gap"/> apart: the least needed leave first (the drop reasons, last, may
    /// be cut but keep <see cref="MinReasonWidth"/>).</summary>
    public static List<TopColumn> Fit(IReadOnlyList<TopColumn> columns, IReadOnlyList<TopRow> rows, int width, int gap)
    {
        var kept = columns.ToList();
        int Need(TopColumn c) => c.Heading == "DROPS BY REASON"
            ? MinReasonWidth + gap
            : rows.Select(r => c.Text(r).Length).Append(c.Heading.Length + 1).Max() + gap;
        while (kept.Count > 1 && kept.Sum(Need) > width)
            kept.Remove(kept.Where(c => c != kept[0]).OrderBy(c => c.Keep).ThenByDescending(kept.IndexOf).First());
        return kept;
    }

    public const int MinReasonWidth = 16;

    /// <summary>0, 0.5, 12.3, 1234: a tenth where it matters.</summary>
    public static string Rate(double perSecond) =>
        perSecond <= 0 ? "0" : perSecond.ToString(perSecond < 100 ? "0.#" : "0", CultureInfo.InvariantCulture);

    public static string Count(uint n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>An upper bound (the histogram's bucket): "&lt;512µs", "&lt;4.1ms", "&lt;1.05s";
    /// "-" when nothing completed that step in the interval.</summary>
    public static string Latency(ulong? upperUs) => upperUs switch
    {
        null => "-",
        ulong.MaxValue => ">17min",
        < 1000 => $"<{upperUs}µs",
        < 10_000 => "<" + (upperUs.Value / 1000.0).ToString("0.0", CultureInfo.InvariantCulture) + "ms",
        < 1_000_000 => "<" + (upperUs.Value / 1000.0).ToString("0", CultureInfo.InvariantCulture) + "ms",
        _ => "<" + (upperUs.Value / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "s",
    };

    /// <summary>"accept-queue-full 41/s, LISTEN_OVERFLOW 3/s"; empty when nothing was dropped.</summary>
    public static string Reasons(TopRow r) =>
        string.Join(", ", r.DropsByReason.Select(d => $"{d.Reason} {Rate(d.PerSecond)}/s"));

    /// <summary>"worst first", "DROP/s ↓", "LISTENER ↑ (reversed)".</summary>
    public static string SortText(TopSort sort, bool reversed)
    {
        if (sort == TopSort.Worst) return reversed ? "best first" : "worst first";
        bool ascending = sort == TopSort.Listener ^ reversed;
        return $"{Heading(sort)} {(ascending ? "↑" : "↓")}";
    }

    public static string Heading(TopSort sort) => sort switch
    {
        TopSort.Worst => "worst",
        TopSort.Listener => "LISTENER",
        TopSort.Arrivals => "ARR/s",
        TopSort.Accepts => "ACC/s",
        TopSort.Queue => "Q",
        TopSort.Peak => "PEAK",
        TopSort.Drops => "DROP/s",
        TopSort.Cookies => "COOKIE/s",
        TopSort.Handshake => "HS p99",
        TopSort.Wait => "WAIT p99",
        _ => sort.ToString(),
    };

    /// <summary>The next sort column to the right (or left), wrapping around.</summary>
    public static TopSort Next(TopSort sort, int step)
    {
        var all = Enum.GetValues<TopSort>();
        int i = Array.IndexOf(all, sort);
        return all[((i + step) % all.Length + all.Length) % all.Length];
    }

    /// <summary>The header line: when, what, how often, sort, losses.</summary>
    public static string Title(TopFrame frame, string what, bool paused = false, bool date = true)
    {
        var parts = new List<string>
        {
            date ? $"tcpq top {frame.TimeUtc:yyyy-MM-dd HH:mm:ss}Z" : $"tcpq top {frame.TimeUtc:HH:mm:ss}Z",
            what,
            frame.IntervalSeconds > 0 ? $"over {frame.IntervalSeconds.ToString("0.0#", CultureInfo.InvariantCulture)} s" : "first interval",
            $"{frame.Rows.Count} listener{(frame.Rows.Count == 1 ? "" : "s")}",
            $"sort: {SortText(frame.Sort, frame.Reversed)}",
            frame.LostEvents == 0 ? "none lost" : $"{frame.LostEvents} events LOST",
        };
        if (frame.ListenersOverflowed > 0) parts.Add($"{frame.ListenersOverflowed} listeners merged into (other listeners)");
        if (paused) parts.Add("PAUSED");
        return string.Join(" · ", parts);
    }

    /// <summary>":2000 backlog-too-small (critical): the accept queue of …".</summary>
    public static string Diagnosis(TopRow r) =>
        r.Finding is { } f ? $"{r.Label} {f.Rule} ({f.Severity.ToString().ToLowerInvariant()}): {f.Text}" : "";

    public const string LatencyNote = "latencies: upper bounds of power-of-two buckets, of the interval's connections (HS = first SYN → handshake done, WAIT = in the accept queue)";
}
