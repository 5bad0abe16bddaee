using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>Limits that keep the tracker's memory bounded, and its clocks.</summary>
public sealed record TrackerOptions
{
    /// <summary>Connections followed at once; past it the one idle longest is evicted (and counted).
    /// The kernel side keeps 65536 too (its LRU <c>conns</c> map, from a first SYN to accept()).</summary>
    public int MaxConnections { get; init; } = 65536;
    /// <summary>Listeners counted apart; past it the rest are merged into one "other" entry.</summary>
    public int MaxListeners { get; init; } = 256;
    /// <summary>An open connection without an event for this long is expired: a client retries a
    /// SYN for ~127 s at most, the kernel forgets a half-open entry after 180 s.</summary>
    public ulong IdleTimeoutNs { get; init; } = 180_000_000_000;
    /// <summary>A finished connection stays this long for events that arrive late or out of order
    /// (a saved trace: 2 s; a live one: <see cref="LiveLingerNs"/>).</summary>
    public ulong LingerNs { get; init; } = 2_000_000_000;
    /// <summary>The linger of a live trace: its kernel events come merged in time order, each at
    /// most a read of the rings late (<see cref="Bpf.RecordsInTimeOrder"/>), so 250 ms is ample.
    /// Under a load of tens of thousands of connections a second, 2 s held eight times as many
    /// finished connections, and the tracker's every lookup went further out of the CPU's caches.
    /// Once a .NET process's rows or request spans are expected, <see cref="AppLingerNs"/> holds.</summary>
    public const ulong LiveLingerNs = 250_000_000;
    /// <summary>The least linger once a .NET process's app rows or request spans are expected:
    /// they come through EventPipe, which delivers them up to a second or more after the kernel's
    /// events, and a keep-alive connection's later requests must still find it.</summary>
    public const ulong AppLingerNs = 2_000_000_000;
    public int SlowestPerListener { get; init; } = 5;
    /// <summary>Which application rows to wait for after accept() (live: what -e asked for; a saved
    /// trace: all). An accepted connection is held until they come, or for the idle timeout.</summary>
    public ApplicationRows Application { get; init; } = ApplicationRows.All;
    /// <summary>Called as each connection leaves the tracker (linger expiry, eviction,
    /// <see cref="ConnectionTracker.Complete"/>), before its timeline is reused: where spans are
    /// made. Null: nothing is called.</summary>
    public Action<ConnectionTimeline, TimelineEnd>? Finished { get; init; }
    /// <summary>Keep each connection's drops, retries, cookies and abort with their times
    /// (<see cref="ConnectionTimeline.Marks"/>), for span events.</summary>
    public bool KeepMarks { get; init; }
    /// <summary>Count each listener's connections (<see cref="ConnectionTracker.Listeners"/>): what a
    /// summary is made of. A trace that only hands connections on (spans, no --summary) leaves
    /// it out, and saves its lookups and histograms on every event.</summary>
    public bool CountListeners { get; init; } = true;
}
