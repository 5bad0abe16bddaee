using Tcpq.Events;

namespace Tcpq.Output;

/// <summary>What a row needs besides the event: wall time and reason names.</summary>
public sealed record EventContext(WallClock Clock, DropReasons Reasons)
{
    /// <summary>The container and pod of a row's listener (JSON rows), or null when not looked up.</summary>
    public Func<ListenerKey, Workload?>? Workloads { get; init; }
}
