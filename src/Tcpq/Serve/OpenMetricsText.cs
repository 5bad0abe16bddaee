using System.Globalization;
using System.Text;

namespace Tcpq.Serve;

/// <summary>
/// The exposition in OpenMetrics 1.0, for a scraper that asks for it (<c>Accept:
/// application/openmetrics-text</c>, as Prometheus does by default), with exemplars: each
/// listener's latency histogram carries the trace id of its latest slow connection on the bucket its
/// duration falls into. Only OpenMetrics has exemplars; the text format 0.0.4 stays as it is.
/// Made from the 0.0.4 text rather than written twice: the two differ only in a counter family's
/// name (no <c>_total</c>), HELP's escaping of quotes, the exemplars and the closing <c># EOF</c>.
/// </summary>
public static class OpenMetricsText
{
    public const string ContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8";

    /// <summary>Whether a request's Accept header asks for OpenMetrics (at any weight but 0).</summary>
    public static bool Accepted(string? accept)
    {
        if (accept is null) return false;
        foreach (var range in accept.Split(','))
        {
            var parts = range.Split(';');
            if (!parts[0].Trim().Equals("application/openmetrics-text", StringComparison.OrdinalIgnoreCase)) continue;
            bool refused = parts.Skip(1).Any(p => p.Trim().Replace(" ", "") is "q=0" or "q=0.0" or "q=0.00" or "q=0.000");
            if (!refused) return true;
        }
        return false;
    }

    /// <summary>Rewrites a text-format exposition (<see cref="PrometheusExposition"/>) as OpenMetrics,
    /// with <paramref name="exemplars"/> on the histograms' buckets.</summary>
    public static string From(string text, ExemplarStore? exemplars)
    {
        var w = new StringBuilder(text.Length + 512);
        string? helpName = null, helpText = null, histogram = null, placed = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0) continue;
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                int space = line.IndexOf(' ', 7);
                helpName = space < 0 ? line[7..] : line[7..space];
                helpText = space < 0 ? "" : line[(space + 1)..];
                continue;
            }
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line[7..].Split(' ');
                string name = parts[0], type = parts.Length > 1 ? parts[1] : "unknown";
                // a counter's family is its name without _total; its samples keep it
                string family = type == "counter" && name.EndsWith("_total", StringComparison.Ordinal) ? name[..^6] : name;
                if (helpName == name) w.Append("# HELP ").Append(family).Append(' ').Append(helpText!.Replace("\"", "\\\"")).Append('\n');
                w.Append("# TYPE ").Append(family).Append(' ').Append(type).Append('\n');
                helpName = helpText = null;
                histogram = type == "histogram" ? name : null;
                placed = null;
                continue;
            }
            if (line[0] == '#') continue;
            w.Append(line);
            if (histogram is not null && exemplars is not null && line.StartsWith(histogram + "_bucket{", StringComparison.Ordinal)
                && SeriesOf(histogram, line) is { } series && series != placed && exemplars.TryGet(series, out var e) && Holds(line, e.Seconds))
            {
                w.Append(" # {trace_id=\"").Append(e.TraceId).Append("\"} ")
                 .Append(e.Seconds.ToString("R", CultureInfo.InvariantCulture)).Append(' ')
                 .Append(e.UnixSeconds.ToString("0.000", CultureInfo.InvariantCulture));
                placed = series;
            }
            w.Append('\n');
        }
        return w.Append("# EOF\n").ToString();
    }

    /// <summary>A bucket line's series as <see cref="ExemplarStore.SeriesKey"/> names it: the
    /// histogram and its listener's labels, which come first and end with netns.</summary>
    private static string? SeriesOf(string histogram, string line)
    {
        int open = histogram.Length + "_bucket{".Length;
        int netns = line.IndexOf("netns=\"", open, StringComparison.Ordinal);
        if (netns < 0) return null; // "other": no listener of its own
        int end = line.IndexOf('"', netns + 7);
        if (end < 0) return null;
        return ExemplarStore.SeriesKey(histogram, line[open..(end + 1)] + ",");
    }

    /// <summary>Whether the bucket of this line (its le) holds a duration of <paramref name="seconds"/>.</summary>
    private static bool Holds(string line, double seconds)
    {
        int le = line.LastIndexOf("le=\"", StringComparison.Ordinal);
        if (le < 0) return false;
        int end = line.IndexOf('"', le + 4);
        var bound = line.AsSpan(le + 4, end - le - 4);
        return bound.SequenceEqual("+Inf") ||
               (double.TryParse(bound, NumberStyles.Float, CultureInfo.InvariantCulture, out double b) && seconds <= b);
    }
}
