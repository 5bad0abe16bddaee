using Tcpq.Aggregates;
using Tcpq.Events;

namespace Tcpq.Top;

/// <summary>One listener's cumulative figures copied at one moment: a source may hand out the same
/// (live) <see cref="ListenerAggregate"/> at every read, so rates need a copy of the earlier one.</summary>
public sealed class ListenerReading
{
    public required ListenerKey Key { get; init; }
    public long Syns { get; init; }
    public long SynRetries { get; init; }
    public long SynCookies { get; init; }
    public long Handshakes { get; init; }
    public long Accepts { get; init; }
    public uint Q0 { get; init; }
    public uint Q { get; init; }
    public uint QMax { get; init; }
    public uint PeakQ { get; init; }
    /// <summary>SYN drops and final-ACK drops, by reason.</summary>
    public required IReadOnlyDictionary<uint, long> Drops { get; init; }
    public required long[] Handshake { get; init; }
    public required long[] QueueWait { get; init; }

    /// <summary>SYNs that were not a client's retry: new connection attempts.</summary>
    public long Arrivals => Syns - SynRetries;

    public static ListenerReading Of(ListenerAggregate a)
    {
        var drops = new Dictionary<uint, long>(a.SynDrops);
        foreach (var (reason, n) in a.AckDrops) drops[reason] = drops.GetValueOrDefault(reason) + n;
        return new ListenerReading
        {
            Key = a.Key,
            Syns = a.Syns, SynRetries = a.SynRetries, SynCookies = a.SynCookies,
            Handshakes = a.Handshakes, Accepts = a.Accepts,
            Q0 = a.Q0, Q = a.Q, QMax = a.QMax, PeakQ = a.PeakQ,
            Drops = drops,
            Handshake = a.Handshake.Counts.ToArray(),
            QueueWait = a.QueueWait.Counts.ToArray(),
        };
    }
}

/// <summary>Every listener of one <see cref="AggregateSnapshot"/>, copied, with its time.</summary>
public sealed class TopReading
{
    public required DateTime TimeUtc { get; init; }
    public required ulong MonotonicNs { get; init; }
    public required IReadOnlyDictionary<ListenerKey, ListenerReading> Listeners { get; init; }
    public ulong LostEvents { get; init; }
    public long ListenersOverflowed { get; init; }
    /// <summary>The .NET processes joined (--dotnet), as the snapshot had them.</summary>
    public IReadOnlyList<AppReading> Apps { get; init; } = [];
    /// <summary>The container and pod of each listener (--workloads), as the snapshot had them.</summary>
    public IReadOnlyDictionary<ListenerKey, Workload> Workloads { get; init; } = new Dictionary<ListenerKey, Workload>();

    public static TopReading Of(AggregateSnapshot s) => new()
    {
        TimeUtc = s.TimeUtc,
        MonotonicNs = s.MonotonicNs,
        // the listeners past the source's limit, merged, under the key no listener has (port 0)
        Listeners = s.Listeners.Append(s.OtherListeners).OfType<ListenerAggregate>().Select(ListenerReading.Of).ToDictionary(r => r.Key),
        LostEvents = s.Cost.LostEvents,
        ListenersOverflowed = s.Cost.ListenersOverflowed,
        Apps = s.Apps,
        Workloads = s.Workloads,
    };
}
