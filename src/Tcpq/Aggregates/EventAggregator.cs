using Tcpq.Events;

namespace Tcpq.Aggregates;

/// <summary>Counts an event stream into per-listener aggregates: the same figures the kernel side
/// keeps in its maps, by the same rule (<see cref="CountingRule"/>), for sources that deliver
/// events (the diag backend, a saved trace, the ring buffer). Bounded: past
/// <see cref="MaxListeners"/> the rest are merged into one.</summary>
public sealed class EventAggregator(int maxListeners = EventAggregator.DefaultMaxListeners) : IEventSink
{
    public const int DefaultMaxListeners = 1024;

    private readonly Dictionary<ListenerKey, ListenerAggregate> _listeners = [];
    private ListenerAggregate? _other;
    private readonly HashSet<ListenerKey> _overflowed = [];
    private const int MaxOverflowedTracked = 65536;

    public int MaxListeners { get; } = maxListeners;
    /// <summary>Distinct listeners merged into <see cref="OtherListeners"/> (counted up to 65536).</summary>
    public long ListenersOverflowed => _overflowed.Count;
    public IReadOnlyCollection<ListenerAggregate> Listeners => _listeners.Values;
    public ListenerAggregate? OtherListeners => _other;

    public void OnEvent(in TcpqEvent e)
    {
        var a = Of(new ListenerKey(e.NetNs, e.DestAddress, e.DestPort));
        if (e.TsNs > a.LastNs) a.LastNs = e.TsNs;
        CountingRule.Count(a, e);
    }

    private ListenerAggregate Of(in ListenerKey key)
    {
        if (_listeners.TryGetValue(key, out var a)) return a;
        if (_listeners.Count < MaxListeners)
        {
            a = new ListenerAggregate(key);
            _listeners.Add(key, a);
            return a;
        }
        if (_overflowed.Count < MaxOverflowedTracked) _overflowed.Add(key);
        return _other ??= new ListenerAggregate(default);
    }
}
