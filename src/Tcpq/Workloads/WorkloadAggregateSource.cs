using Tcpq.Aggregates;
using Tcpq.Events;

namespace Tcpq.Workloads;

/// <summary>
/// A source's readings with each listener's container and pod in them (--workloads), so that
/// every consumer of a snapshot labels the same listener the same way from the same reading:
/// serve's Prometheus labels and OTLP attributes, top's WORKLOAD column. A listener is looked up
/// when it first appears in a reading, so its series carry their labels from the first scrape;
/// what sticks and for how long is <see cref="WorkloadResolver"/>'s. Owns the inner source.
/// </summary>
public sealed class WorkloadAggregateSource(IAggregateSource inner, WorkloadResolver resolver) : IAggregateSource
{
    public DropReasons Reasons => inner.Reasons;

    public AggregateSnapshot Read()
    {
        var snapshot = inner.Read();
        return snapshot with { Workloads = resolver.For(Keys(snapshot.Listeners)) };
    }

    /// <summary>Each listener with its socket's cgroup id, when the source read it (counting mode):
    /// then a pod's listener is named without entering its network namespace.</summary>
    private static IEnumerable<(ListenerKey, ulong)> Keys(IReadOnlyList<ListenerAggregate> listeners)
    {
        for (int i = 0; i < listeners.Count; i++) yield return (listeners[i].Key, listeners[i].CgroupId);
    }

    public void Dispose()
    {
        resolver.Dispose();
        inner.Dispose();
    }
}
