using Tcpq.Aggregates;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Tcpq.Bpf;
using Tcpq.Events;
using Tcpq.Interop;

namespace Tcpq.Aggregates;

/// <summary>
/// The per-listener aggregates the kernel programs keep (bpf/aggregates.h) when loaded to count
/// rather than to write rows: <c>agg_counts</c> (per-CPU, (listener, kind, reason) → count) and
/// <c>agg_listeners</c> (per-CPU, listener → queues and latency histograms). Reading them costs a
/// map walk per interval, nothing per connection. Counters are exact: each is the number of rows of
/// its kind and reason <c>tcpq trace</c> would have written.
/// </summary>
public sealed class KernelAggregates : IAggregateSource
{
    public const int Buckets = 32;
    private const int MaxListeners = 1024, MaxCounters = MaxListeners * 16;

    private readonly Tracer _tracer;
    private readonly BpfMap _counts, _listeners, _missed;

    public DropReasons Reasons { get; }

    private KernelAggregates(Tracer tracer, DropReasons reasons)
    {
        _tracer = tracer;
        Reasons = reasons;
        _counts = tracer.Map("agg_counts");
        _listeners = tracer.Map("agg_listeners");
        _missed = tracer.Map("agg_missed");
    }

    /// <summary>Loads and attaches the programs in counting mode. When it returns, counting is live.</summary>
    public static KernelAggregates Start(IReadOnlyList<ushort> ports, DropReasons reasons, bool verbose = false)
    {
        // the ring buffer is not written in this mode: its smallest size
        var config = new TraceConfig(ports, EventKinds.Connection, TraceConfig.MinRingBufferKb) { Aggregate = true };
        return new KernelAggregates(Tracer.Start(config, IEventSink.None, verbose), reasons);
    }

    public AggregateSnapshot Read()
    {
        var listeners = ReadListeners(_counts, _listeners);
        var cost = new AggregateCost(_tracer.LostEvents(), (long)(_missed.SumPerCpu(0) ?? 0), null, 0);
        return new AggregateSnapshot(DateTime.UtcNow, (ulong)WallClock.MonotonicNowNs(), listeners, null, cost);
    }

    /// <summary>Every listener's figures as the kernel's maps hold them now: <c>agg_counts</c>
    /// through <see cref="CountingRule"/>, <c>agg_listeners</c> (queues, histograms) summed over
    /// the CPUs.</summary>
    internal static List<ListenerAggregate> ReadListeners(BpfMap counters, BpfMap listenerStats)
    {
        int cpus = BpfMap.PossibleCpus;
        var byKey = new Dictionary<Events.ListenerKey, ListenerAggregate>();
        ListenerAggregate Of(in ListenerKey key)
        {
            var k = new Events.ListenerKey(key.NetNs, key.Address, key.Port);
            if (!byKey.TryGetValue(k, out var a)) byKey.Add(k, a = new ListenerAggregate(k));
            return a;
        }

        var counts = new ulong[cpus];
        foreach (var key in counters.Keys<CounterKey>(MaxCounters))
        {
            if (!counters.LookupPerCpu(key, counts.AsSpan())) continue;
            long n = 0;
            foreach (var c in counts) n += (long)c;
            CountingRule.Count(Of(key.Listener), (EventKind)key.Kind, key.Reason, n);
        }

        var stats = new Stats[cpus];
        foreach (var key in listenerStats.Keys<ListenerKey>(MaxListeners))
        {
            if (!listenerStats.LookupPerCpu(key, stats.AsSpan())) continue;
            var a = Of(key);
            ulong latest = 0;
            foreach (ref readonly var s in stats.AsSpan())
            {
                // the queues as the latest event on any CPU saw them; the peaks over all
                if (s.LastNs >= latest && s.LastNs != 0)
                {
                    latest = s.LastNs;
                    (a.Q0, a.Q, a.QMax) = (s.Q0, s.Q, s.QMax);
                }
                a.PeakQ = Math.Max(a.PeakQ, s.PeakQ);
                a.PeakQ0 = Math.Max(a.PeakQ0, s.PeakQ0);
                Add(a.Handshake, s.Handshake);
                Add(a.QueueWait, s.QueueWait);
                Add(a.SynToAccept, s.SynToAccept);
            }
            a.LastNs = latest;
        }
        return [.. byKey.Values];
    }

    private static void Add(Log2Histogram to, in Histogram h)
    {
        if (h.Count == 0) return;
        ReadOnlySpan<ulong> b = h.Buckets;
        Span<long> counts = stackalloc long[Buckets];
        for (int i = 0; i < Buckets; i++) counts[i] = (long)b[i];
        to.Add(counts, (long)h.Count, h.SumNs);
    }

    public void Dispose() => _tracer.Dispose();

    /// <summary>struct tcpq_agg_listener.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct ListenerKey
    {
        public Address16 Address;
        public uint NetNs;
        public ushort Port;
        public ushort Pad;
    }

    /// <summary>struct tcpq_agg_counter_key.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct CounterKey
    {
        public ListenerKey Listener;
        public uint Kind;
        public uint Reason;
    }

    [InlineArray(Buckets)]
    internal struct Buckets32
    {
        private ulong _b;
    }

    /// <summary>struct tcpq_agg_hist.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Histogram
    {
        public ulong Count;
        public ulong SumNs;
        public Buckets32 Buckets;
    }

    /// <summary>struct tcpq_agg_stats.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Stats
    {
        public ulong LastNs;
        public uint Q0, Q, QMax, PeakQ, PeakQ0, Pad;
        public Histogram Handshake, QueueWait, SynToAccept;
    }
}
