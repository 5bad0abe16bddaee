using Tcpq.Events;

namespace Tcpq.Aggregates;

/// <summary>What is counted for one listener (namespace, address, port) since counting began:
/// cumulative counters (exact: each is the sum of the rows of its kind that <c>trace</c> would
/// have written), the queues as last seen, and latency histograms. What <c>serve</c> exports and
/// <c>top</c> shows; a source fills it from the kernel's per-CPU maps or from the event stream.</summary>
public sealed class ListenerAggregate(ListenerKey key)
{
    public ListenerKey Key { get; } = key;

    /// <summary>SYNs that reached the listener; those with Attempt &gt; 1 (client retries).</summary>
    public long Syns, SynRetries;
    public long SynCookies, SynAckRetransmits;
    /// <summary>Handshakes completed (syn-aa), accepts, by reason: drops of SYNs, drops of final
    /// ACK/data segments, aborts before accept.</summary>
    public long Handshakes, Accepts;
    public readonly Dictionary<uint, long> SynDrops = [], AckDrops = [], Aborts = [];

    /// <summary>The queues at the last event that carried them, and the largest Q and Q0 seen.</summary>
    public uint Q0, Q, QMax, PeakQ, PeakQ0;
    public ulong LastNs;

    /// <summary>First SYN → syn-aa; syn-aa → accept (time in the accept queue); first SYN → accept
    /// (only where the source joins a connection's SYN to its accept: the kernel side does, an
    /// event stream aggregated row by row does not).</summary>
    public readonly Log2Histogram Handshake = new(), QueueWait = new(), SynToAccept = new();

    /// <summary>The listening socket's cgroup v2 id (the cgroup of the process that made it), when
    /// the source knows it (counting mode reads it in the kernel); 0 otherwise. What names its
    /// container and pod without entering its network namespace (Workloads/).</summary>
    public ulong CgroupId;

    public long AllDrops => SynDrops.Values.Sum() + AckDrops.Values.Sum();
}
