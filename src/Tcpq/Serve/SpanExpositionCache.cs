using System.Text;

namespace Tcpq.Serve;

/// <summary>
/// serve's exposition with the spans' own series after it (serve --spans-slower-than), in the text
/// format and in OpenMetrics with exemplars: each rendered once per reading and per change of the
/// spans' figures, shared by every scraper meanwhile, as <see cref="ExpositionCache"/> does without
/// spans. The text format is the reading's bytes with the spans' few lines appended (no decoding);
/// OpenMetrics rewrites the text, so it is made only when a scraper asks for it.
/// </summary>
public sealed class SpanExpositionCache(Func<RenderedExposition> read, ISpanFigures spans)
{
    private readonly Lock _gate = new();
    private Rendered? _text, _openMetrics;

    /// <summary>The Prometheus text format: the reading, then the spans' series.</summary>
    public RenderedExposition Text()
    {
        lock (_gate)
        {
            var key = KeyNow(read(), withExemplars: false);
            if (_text is not { } last || last.Key != key)
            {
                _text = null; // the old one goes as soon as its scrapers are done with it
                _text = last = new Rendered(key, new RenderedExposition(Concat(key.Reading.Text.Span, SpanExposition.Write(spans))));
            }
            return last.Exposition;
        }
    }

    /// <summary>OpenMetrics, with the spans' exemplars on the histograms' buckets.</summary>
    public RenderedExposition OpenMetrics()
    {
        lock (_gate)
        {
            var key = KeyNow(read(), withExemplars: true);
            if (_openMetrics is not { } last || last.Key != key)
            {
                _openMetrics = null;
                string text = Encoding.UTF8.GetString(key.Reading.Text.Span) + SpanExposition.Write(spans);
                _openMetrics = last = new Rendered(key, new RenderedExposition(Encoding.UTF8.GetBytes(OpenMetricsText.From(text, spans.Exemplars))));
            }
            return last.Exposition;
        }
    }

    private Key KeyNow(RenderedExposition reading, bool withExemplars) =>
        new(reading, spans.Sent, spans.RateCapped, spans.RingFull, withExemplars ? spans.Exemplars.Version : 0);

    private static byte[] Concat(ReadOnlySpan<byte> reading, string tail)
    {
        var bytes = new byte[reading.Length + Encoding.UTF8.GetByteCount(tail)];
        reading.CopyTo(bytes);
        Encoding.UTF8.GetBytes(tail, bytes.AsSpan(reading.Length));
        return bytes;
    }

    /// <summary>What a rendering depends on: the reading (by reference: a new reading is a new
    /// object) and the spans' figures.</summary>
    private readonly record struct Key(RenderedExposition Reading, long Sent, long RateCapped, ulong RingFull, long ExemplarVersion);

    private sealed record Rendered(Key Key, RenderedExposition Exposition);
}
