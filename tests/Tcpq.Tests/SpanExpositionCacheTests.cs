using System.Text;
using Tcpq.Aggregates;
using Tcpq.Events;
using Tcpq.Serve;

namespace Tcpq.Tests;

/// <summary>serve with spans renders its exposition once per reading and per change of the spans'
/// figures, not once per scrape; what it serves is the reading followed by the spans' series.</summary>
public class SpanExpositionCacheTests
{
    private static readonly ListenerKey Key = new(4026531840, Address16.FromV4([127, 0, 0, 1]), 8080);

    private sealed class Figures : ISpanFigures
    {
        public long Sent { get; set; }
        public long RateCapped { get; set; }
        public ulong RingFull { get; set; }
        public ExemplarStore Exemplars { get; } = new();
    }

    private static RenderedExposition Reading()
    {
        var a = new ListenerAggregate(Key) { Syns = 2, Handshakes = 2 };
        a.QueueWait.RecordNs(600_000_000);
        var snapshot = new AggregateSnapshot(DateTime.UtcNow, 1, [a], new ListenerAggregate(default), new AggregateCost(0, 0, null, 0));
        return new RenderedExposition(Encoding.UTF8.GetBytes(PrometheusExposition.Write(snapshot, DropReasons.Empty, "ebpf")));
    }

    [Fact]
    public void The_text_is_the_reading_then_the_spans_series_rendered_once_while_nothing_changes()
    {
        var reading = Reading();
        var figures = new Figures { Sent = 3, RateCapped = 1 };
        var cache = new SpanExpositionCache(() => reading, figures);
        var first = cache.Text();
        Assert.Same(first, cache.Text());
        string text = Encoding.UTF8.GetString(first.Text.Span);
        Assert.StartsWith(Encoding.UTF8.GetString(reading.Text.Span), text);
        Assert.EndsWith(SpanExposition.Write(figures), text);
        Assert.Contains("tcpq_spans_total 3\n", text);

        figures.Sent = 4; // a span sent since: rendered again
        var second = cache.Text();
        Assert.NotSame(first, second);
        Assert.Contains("tcpq_spans_total 4\n", Encoding.UTF8.GetString(second.Text.Span));
        // an exemplar changes only OpenMetrics
        figures.Exemplars.Offer("tcpq_accept_queue_wait_seconds", Key, new Exemplar("0af7651916cd43dd8448eb211c80319c", 0.6, 1796644800));
        Assert.Same(second, cache.Text());
    }

    [Fact]
    public void A_new_reading_or_a_new_exemplar_renders_openmetrics_again()
    {
        var reading = Reading();
        var figures = new Figures();
        var cache = new SpanExpositionCache(() => reading, figures);
        var first = cache.OpenMetrics();
        Assert.Same(first, cache.OpenMetrics());
        Assert.DoesNotContain(" # {", Encoding.UTF8.GetString(first.Text.Span));

        figures.Exemplars.Offer("tcpq_accept_queue_wait_seconds", Key, new Exemplar("0af7651916cd43dd8448eb211c80319c", 0.6, 1796644800));
        var second = cache.OpenMetrics();
        Assert.NotSame(first, second);
        string om = Encoding.UTF8.GetString(second.Text.Span);
        Assert.Contains(" # {trace_id=\"0af7651916cd43dd8448eb211c80319c\"} 0.6", om);
        Assert.Contains("tcpq_spans_total 0\n", om);
        Assert.EndsWith("# EOF\n", om);

        reading = Reading();
        Assert.NotSame(second, cache.OpenMetrics());
    }
}
