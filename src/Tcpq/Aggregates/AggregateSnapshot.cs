using Tcpq.Events;

namespace Tcpq.Aggregates;

/// <summary>One reading of every listener's aggregates, cumulative since counting began.
/// <see cref="OtherListeners"/> holds those past the listener limit, merged (never unbounded growth).</summary>
public sealed record AggregateSnapshot(
    DateTime TimeUtc,
    ulong MonotonicNs,
    IReadOnlyList<ListenerAggregate> Listeners,
    ListenerAggregate? OtherListeners,
    AggregateCost Cost)
{
    /// <summary>The .NET processes joined behind the listeners (--dotnet), by pid; none when off.</summary>
    public IReadOnlyList<AppReading> Apps { get; init; } = [];

    /// <summary>The container and pod each listener runs in (--workloads), by key; the host's
    /// listeners, and every listener when off, are not in it.</summary>
    public IReadOnlyDictionary<ListenerKey, Workload> Workloads { get; init; } = NoWorkloads;

    /// <summary>The listeners whose queues (length, limit, SYN queue) were read now, when the
    /// source says so: their queue gauges are shown, the others' left out rather than stale. Null:
    /// every listener's are now (counting mode reads them live in the kernel).</summary>
    public IReadOnlySet<ListenerKey>? QueuesReadNow { get; init; }

    private static readonly IReadOnlyDictionary<ListenerKey, Workload> NoWorkloads = new Dictionary<ListenerKey, Workload>();
}

/// <summary>What counting costs and misses: events lost (ring buffer full), listeners merged
/// into "other" past the limit, and the kernel programs' run time when the kernel measures it
/// (<c>kernel.bpf_stats_enabled</c>), else null.</summary>
public sealed record AggregateCost(ulong LostEvents, long ListenersOverflowed, TimeSpan? ProgramRunTime, long ProgramRuns)
{
    /// <summary>The share of accepts the queue-wait and SYN-to-accept histograms hold, when they
    /// come from a sample (counting mode's duty cycle); null when every accept is in them.</summary>
    public double? LatencySampleRatio { get; init; }
}
