using Tcpq.Aggregates;

namespace Tcpq.Serve;

/// <summary>The source read at most once per <paramref name="maxAge"/>: a scrape and an OTLP
/// export (whose every instrument asks) share one reading, and readers never run the source concurrently.</summary>
public sealed class SnapshotCache(IAggregateSource source, TimeSpan maxAge)
{
    private readonly object _gate = new();
    private AggregateSnapshot? _last;
    private long _readAtMs = long.MinValue;

    public AggregateSnapshot Read()
    {
        lock (_gate)
        {
            long now = Environment.TickCount64;
            if (_last is null || now - _readAtMs >= maxAge.TotalMilliseconds)
            {
                _last = source.Read();
                _readAtMs = now;
            }
            return _last;
        }
    }
}
