using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Aggregates;

/// <summary>One joined .NET process's runtime (--dotnet) in an <see cref="AggregateSnapshot"/>:
/// the thread pool at its last sample and totals since tcpq joined it, as serve exports them and
/// top shows them; where it listens, so that top's diagnosis finds the process behind a listener;
/// and its figures as the diagnosis rules read an application.</summary>
public sealed record AppReading(
    uint Pid, string Comm, uint Threads, uint QueuedWorkItems, long PoolSamples,
    long StarvationInjections, long BlockingInjections, long GcPauses, double GcPauseSeconds, long KestrelRejected)
{
    private static readonly IReadOnlySet<ushort> NoPorts = new HashSet<ushort>();

    /// <summary>The process's network namespace (inode), 0 when unknown.</summary>
    public uint NetNs { get; init; }

    /// <summary>The watched ports it owns a listening socket on (in <see cref="NetNs"/>).</summary>
    public IReadOnlySet<ushort> ListeningPorts { get; init; } = NoPorts;

    /// <summary>Its pool, injections, pauses and refusals as the rules read them (no connection of
    /// its own: aggregates join none), or null.</summary>
    public AppSummary? Summary { get; init; }

    /// <summary>The process owns the listener <paramref name="key"/> names.</summary>
    public bool Owns(in ListenerKey key) => NetNs == key.NetNs && ListeningPorts.Contains(key.Port);
}
