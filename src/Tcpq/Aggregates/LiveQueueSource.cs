using Tcpq.Diag;
using Tcpq.Events;

namespace Tcpq.Aggregates;

/// <summary>
/// An event stream's readings with each listener's queues read now (sock_diag in its namespace,
/// <see cref="LiveListenerQueues"/>) instead of as of its last event, so that serve's gauges say
/// now for <c>--source events</c> and <c>--backend diag</c> as they do for counting mode, whose
/// kernel side reads them live. A listener whose queues could not be read (closed, or in a
/// namespace tcpq cannot enter) is left out of <see cref="AggregateSnapshot.QueuesReadNow"/>,
/// and its gauges with it. The peaks are the stream's and the reads', whichever is higher. Owns
/// the inner source.
/// </summary>
public sealed class LiveQueueSource(IAggregateSource inner, LiveListenerQueues queues) : IAggregateSource
{
    /// <summary>The longest queues a read saw, per listener (the stream's own peaks are of its
    /// events; a reading is a copy, so they are kept here). As bounded as the stream's listeners.</summary>
    private readonly Dictionary<ListenerKey, (uint Q, uint Q0)> _peaks = [];

    public DropReasons Reasons => inner.Reasons;

    public AggregateSnapshot Read()
    {
        var snapshot = inner.Read();
        var keys = new List<ListenerKey>(snapshot.Listeners.Count);
        foreach (var a in snapshot.Listeners) keys.Add(a.Key);
        var now = queues.Read(keys);
        lock (_peaks)
        {
            foreach (var a in snapshot.Listeners)
            {
                var peak = _peaks.GetValueOrDefault(a.Key);
                if (now.TryGetValue(a.Key, out var q))
                {
                    (a.Q0, a.Q, a.QMax) = (q.Q0, q.Q, q.QMax);
                    peak = (Math.Max(peak.Q, q.Q), Math.Max(peak.Q0, q.Q0));
                    _peaks[a.Key] = peak;
                }
                a.PeakQ = Math.Max(a.PeakQ, peak.Q);
                a.PeakQ0 = Math.Max(a.PeakQ0, peak.Q0);
            }
        }
        return snapshot with { QueuesReadNow = now.Keys.ToHashSet() };
    }

    public void Dispose() => inner.Dispose();
}
