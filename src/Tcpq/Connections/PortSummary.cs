using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>The answer for one listening port: counts, latencies, queue, the slowest connections
/// in words. What the renderers print and the diagnosis rules read.</summary>
public sealed record PortSummary(
    string Address, ushort Port, uint NetNs, bool IsOther,
    long Connections, long Established, long Accepted, long Aborted, long BeganBeforeTrace,
    long Expired, long Evicted, long StillOpen, long EstablishedNotAccepted,
    long Syns, long Arrivals, long Retries, long SynAckRetrans, long Cookies,
    long AcceptQueueDrops, long SynQueueDrops, long AckDrops,
    IReadOnlyDictionary<string, long> Drops, IReadOnlyDictionary<string, long> SynDrops, IReadOnlyDictionary<string, long> Aborts,
    LatencySummary Handshake, LatencySummary QueueWait, LatencySummary Total,
    double SpanSeconds, double ArrivalRate, double AcceptRate,
    uint PeakQ, uint PeakQ0, uint QMax, double QueueFullShare,
    IReadOnlyList<SlowLine> Slowest)
{
    /// <summary>Clients whose final ACK or data segments were refused (each refused segment is an
    /// ack-drop row), and how long that held their handshake.</summary>
    public long AckHeldClients { get; init; }
    public LatencySummary AckHold { get; init; } = new(0, 0, 0, 0, 0, []);
    /// <summary>Inside the application: the stages after accept(), who closed.</summary>
    public ApplicationSummary App { get; init; } = ApplicationSummary.Empty;

    /// <summary>The .NET application behind the port (--dotnet), when one was joined.</summary>
    public AppSummary? Dotnet { get; init; }

    public long DroppedSyns => SynDrops.Values.Sum();
    public long AllDrops => Drops.Values.Sum();

    /// <summary>":2000": the port alone (its address, when known, is in <see cref="Address"/>).</summary>
    public string Label => IsOther ? "(other listeners)" : $":{Port}";

    /// <summary>The longest any client waited from its first SYN, whatever the outcome.</summary>
    public long LongestWaitUs => Math.Max(Total.Max, Math.Max(Handshake.Max, Slowest.Count > 0 ? (long)(Slowest[0].Connection.DurationNs / 1000) : 0));
}
