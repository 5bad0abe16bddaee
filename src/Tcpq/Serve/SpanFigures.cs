using System.Globalization;
using System.Text;

namespace Tcpq.Serve;

/// <summary>What serve's spans did (serve --spans-slower-than), for the exposition.</summary>
public interface ISpanFigures
{
    /// <summary>Connections handed to the span exporter.</summary>
    long Sent { get; }
    /// <summary>Slow connections the rate cap kept from becoming traces.</summary>
    long RateCapped { get; }
    /// <summary>Records the kernel could not send (their ring was full).</summary>
    ulong RingFull { get; }
    ExemplarStore Exemplars { get; }
}

/// <summary>The spans' own series, after the exposition's: written apart from it so that serve
/// without spans renders exactly as before.</summary>
public static class SpanExposition
{
    public static string Write(ISpanFigures spans)
    {
        var w = new StringBuilder(512);
        w.Append("# HELP tcpq_spans_total Slow, dropped or retried connections handed to the span exporter (--spans-slower-than).\n")
         .Append("# TYPE tcpq_spans_total counter\n")
         .Append("tcpq_spans_total ").Append(spans.Sent.ToString(CultureInfo.InvariantCulture)).Append('\n')
         .Append("# HELP tcpq_spans_dropped_total Slow connections that became no trace: over the rate cap (--spans-max-rate), or their record did not fit the kernel's ring.\n")
         .Append("# TYPE tcpq_spans_dropped_total counter\n")
         .Append("tcpq_spans_dropped_total{reason=\"rate-cap\"} ").Append(spans.RateCapped.ToString(CultureInfo.InvariantCulture)).Append('\n')
         .Append("tcpq_spans_dropped_total{reason=\"ring-full\"} ").Append(spans.RingFull.ToString(CultureInfo.InvariantCulture)).Append('\n');
        return w.ToString();
    }
}
