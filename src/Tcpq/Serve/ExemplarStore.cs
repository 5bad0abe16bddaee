using Tcpq.Events;

namespace Tcpq.Serve;

/// <summary>A slow connection's trace, as an exemplar of one histogram's series: its trace id, the
/// duration it adds to the histogram (seconds) and when (Unix seconds).</summary>
public readonly record struct Exemplar(string TraceId, double Seconds, double UnixSeconds);

/// <summary>
/// The latest exemplar of each listener's latency histograms (serve --spans-slower-than): written
/// as connections become traces, read by the OpenMetrics exposition, which puts each on the bucket
/// its duration falls into. Bounded: past <see cref="MaxSeries"/> series it starts over.
/// </summary>
public sealed class ExemplarStore
{
    public const int MaxSeries = 4096;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Exemplar> _latest = [];

    /// <summary>Keeps <paramref name="exemplar"/> as the latest of <paramref name="histogram"/>'s
    /// series for <paramref name="listener"/> (its Prometheus name, e.g. tcpq_handshake_duration_seconds).</summary>
    public void Offer(string histogram, in ListenerKey listener, Exemplar exemplar)
    {
        string key = SeriesKey(histogram, PrometheusExposition.ListenerLabels(listener));
        lock (_gate)
        {
            if (_latest.Count >= MaxSeries && !_latest.ContainsKey(key)) _latest.Clear();
            _latest[key] = exemplar;
            _version++;
        }
    }

    private long _version;

    /// <summary>Changes whenever an exemplar is offered: an exposition rendered with the store at
    /// one version holds its exemplars as long as the version stays.</summary>
    public long Version
    {
        get { lock (_gate) return _version; }
    }

    /// <summary>The exemplar of a series, by <see cref="SeriesKey"/>.</summary>
    public bool TryGet(string seriesKey, out Exemplar exemplar)
    {
        lock (_gate) return _latest.TryGetValue(seriesKey, out exemplar);
    }

    public int Count
    {
        get { lock (_gate) return _latest.Count; }
    }

    /// <summary>A histogram's series by its listener's labels (<see cref="PrometheusExposition.ListenerLabels"/>).</summary>
    public static string SeriesKey(string histogram, string listenerLabels) => histogram + "{" + listenerLabels;
}
