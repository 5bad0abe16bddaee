using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Tcpq.Bpf;
using Tcpq.Events;
using Tcpq.Interop;

namespace Tcpq.Aggregates;

/// <summary>
/// Counting mode (serve, top): each listener's figures from the kernel's slots (bpf/count.bpf.c),
/// with no syscall hooked and nothing kept per connection. The counters are exact: each is the
/// number of rows of its kind and reason <c>tcpq trace</c> would have written, mapped through
/// <see cref="CountingRule"/>. Accepts are not hooked but derived, per listener:
/// <code>accepts = handshakes - (queue now - queue when counting began)</code>
/// (for a listener that closed: handshakes + queue at start - queue at close, those the kernel
/// reset). A connection reset while queued stays queued and is still returned by accept(), so it
/// is not subtracted. The handshakes are read before the queue, so the figure is never above the
/// truth; it is kept from going backwards, and is exact once traffic pauses. The queue gauges are
/// the listener's queues now, read by the live reader.
/// <para>A listener that closed is read a last time, then its slot is freed for the next one; its
/// series show their final values in that read and leave after <see cref="ClosedRetention"/>
/// (none by default; a listener that opens again on the same address before then continues them).</para>
/// </summary>
public sealed class KernelCounters : IAggregateSource
{
    public const int Buckets = 32;
    private const int Counters = (int)Counter.Count;
    /// <summary>A slot seen closed is freed only this long after its listener closed: the kernel
    /// resets the connections still queued right after the close, and they count in it.</summary>
    private const long CloseSettleNs = 1_000_000_000;

    private readonly CountingPrograms _kernel;
    private readonly BpfMap _infos, _counts, _lives, _meta, _kernelDrops, _byKey, _free;
    private readonly int _cpus = BpfMap.PossibleCpus;
    private readonly SlotCounts[] _perCpu;
    private readonly SlotCounts[] _zeros;
    /// <summary>Figures of listeners whose slots were freed, by listener: their series go on.</summary>
    private readonly Dictionary<ListenerKey, Retired> _retired = [];
    /// <summary>The accepts last reported per listener: never less.</summary>
    private readonly Dictionary<ListenerKey, long> _acceptsShown = [];

    public DropReasons Reasons { get; }

    /// <summary>How long a closed listener's series stay after the read that found it closed: by
    /// default none, so its final values are shown in that one read and then leave (a listener of
    /// the same address that opens before the next read continues them).</summary>
    public TimeSpan ClosedRetention { get; set; } = TimeSpan.Zero;

    private KernelCounters(CountingPrograms kernel, DropReasons reasons)
    {
        _kernel = kernel;
        Reasons = reasons;
        _infos = kernel.Map("slot_infos");
        _counts = kernel.Map("slot_counts");
        _lives = kernel.Map("slot_lives");
        _meta = kernel.Map("slot_meta");
        _kernelDrops = kernel.Map("kernel_drops");
        _byKey = kernel.Map("slot_by_key");
        _free = kernel.Map("free_slots");
        _perCpu = new SlotCounts[_cpus];
        _zeros = new SlotCounts[_cpus];
    }

    /// <summary>Loads and attaches the counting programs. When it returns, counting is live. The
    /// latencies of accept are measured as <paramref name="sample"/> says (default: 100 ms in every second).</summary>
    public static KernelCounters Start(IReadOnlyList<ushort> ports, DropReasons reasons, bool verbose = false, LatencySampling? sample = null, TimeSpan? spansSlowerThan = null) =>
        new(CountingPrograms.Start(ports, sample ?? LatencySampling.Default, verbose, spansSlowerThan), reasons);

    /// <summary>The kernel's records of slow connections (serve --spans-slower-than), or null.</summary>
    public SpanRecords? Spans => _kernel.Spans;

    public AggregateSnapshot Read()
    {
        try { _kernel.SettleVerdicts(); }
        catch (ErrnoException e) { throw e.As(ExitCode.Failure, "settle the last verdicts (BPF_PROG_TEST_RUN on each CPU)"); }
        long now = WallClock.MonotonicNowNs();
        _meta.Lookup(0u, out CountingPrograms.SlotMeta meta);
        uint high = Math.Min(meta.High, CountingPrograms.Slots - 1);

        // the counters first, then the queues: a handshake counted after its queue was read
        // would otherwise make an accept that has not happened
        var slots = new List<(uint Slot, CountingPrograms.SlotInfo Info, ListenerAggregate Figures, long Established)>();
        var other = new ListenerAggregate(default);
        long lost = 0;
        var kernelDrops = KernelDropsBySlot();
        for (uint slot = 0; slot <= high; slot++)
        {
            CountingPrograms.SlotInfo info = default;
            if (slot != 0 && (!_infos.Lookup(slot, out info) || info.State == CountingPrograms.SlotFree)) continue;
            var figures = slot == 0 ? other : new ListenerAggregate(new ListenerKey(info.NetNs, info.Address, info.Port)) { CgroupId = info.CgroupId };
            long established = AddCounts(slot, figures, ref lost);
            if (kernelDrops.TryGetValue(slot, out var drops))
                foreach (var (reason, n) in drops) CountingRule.Count(figures, EventKind.SynDrop, reason, n);
            if (slot != 0) slots.Add((slot, info, figures, established));
        }
        // "other": its listeners' queues are not known; each handshake is counted as accepted
        if (other.Handshakes > 0) CountingRule.Count(other, EventKind.Accept, 0, other.Handshakes);

        try { _kernel.ReadLive(); }
        catch (ErrnoException e) { throw e.As(ExitCode.Failure, "read the listeners' queues (BPF_PROG_TEST_RUN)"); }

        var byKey = new Dictionary<ListenerKey, (ListenerAggregate Figures, long Accepts)>();
        // the listeners whose queues the kernel read now; a closed one's final read shows no gauge
        var readNow = new HashSet<ListenerKey>();
        foreach (var (slot, info, figures, established) in slots)
        {
            bool live = _lives.Lookup(slot, out CountingPrograms.SlotLive q) && q.Ok == 1 && q.Cookie == info.Cookie;
            bool closed = info.State == CountingPrograms.SlotClosed || !live;
            long accepts = closed
                ? established + info.QBase - (info.State == CountingPrograms.SlotClosed ? info.QAtClose : 0)
                : established - ((long)q.Q - info.QBase);
            if (live) (figures.Q, figures.Q0, figures.QMax) = (q.Q, q.Q0, q.QMax);
            figures.LastNs = (ulong)now;

            if (closed && (info.State != CountingPrograms.SlotClosed || now - (long)info.ClosedNs >= CloseSettleNs))
            {
                Retire(slot, info, figures, accepts, now);
                continue;
            }
            var key = figures.Key;
            if (live) readNow.Add(key);
            if (byKey.TryGetValue(key, out var sum))
            {
                Merge(sum.Figures, figures);
                byKey[key] = (sum.Figures, sum.Accepts + accepts);
            }
            else
            {
                byKey[key] = (figures, accepts);
            }
        }

        var listeners = new List<ListenerAggregate>(byKey.Count + _retired.Count);
        foreach (var (key, (figures, accepts)) in byKey)
        {
            long all = accepts;
            if (_retired.TryGetValue(key, out var r))
            {
                uint limit = figures.QMax; // the listening sockets' limit, not a closed one's
                Merge(figures, r.Figures);
                figures.QMax = limit;
                all += r.Accepts;
                r.LastSeenNs = now;
            }
            listeners.Add(WithAccepts(figures, all));
        }
        foreach (var (key, r) in _retired.ToList())
        {
            if (byKey.ContainsKey(key)) continue;
            if (now - r.LastSeenNs > (long)ClosedRetention.TotalNanoseconds)
            {
                _retired.Remove(key);
                _acceptsShown.Remove(key);
                continue;
            }
            var figures = Copy(r.Figures);
            figures.LastNs = (ulong)now;
            listeners.Add(WithAccepts(figures, r.Accepts));
        }

        var cost = new AggregateCost((ulong)lost, (long)meta.Overflowed, null, 0) { LatencySampleRatio = _kernel.LatencySampleRatio };
        return new AggregateSnapshot(DateTime.UtcNow, (ulong)now, listeners,
            other.Syns + other.Handshakes + other.AllDrops > 0 ? other : null, cost) { QueuesReadNow = readNow };
    }

    /// <summary>Adds a slot's counters (summed over the CPUs) to its figures; returns its handshakes.</summary>
    private long AddCounts(uint slot, ListenerAggregate figures, ref long lost)
    {
        if (!_counts.LookupPerCpu(slot, _perCpu.AsSpan())) return 0;
        Span<long> n = stackalloc long[Counters];
        foreach (ref readonly var c in _perCpu.AsSpan())
        {
            ReadOnlySpan<ulong> cn = c.N;
            for (int i = 0; i < Counters; i++) n[i] += (long)cn[i];
            figures.PeakQ = Math.Max(figures.PeakQ, c.PeakQ);
            figures.PeakQ0 = Math.Max(figures.PeakQ0, c.PeakQ0);
            Add(figures.Handshake, c.Handshake);
            Add(figures.QueueWait, c.QueueWait);
            Add(figures.SynToAccept, c.SynToAccept);
        }
        for (int i = 0; i < Counters; i++)
        {
            if (n[i] == 0) continue;
            if (CounterRows[i] is var (kind, reason)) CountingRule.Count(figures, kind, reason, n[i]);
            else lost += n[i];
        }
        return n[(int)Counter.Established];
    }

    private static void Add(Log2Histogram to, in Histogram h)
    {
        if (h.Count == 0) return;
        ReadOnlySpan<ulong> b = h.Buckets;
        Span<long> counts = stackalloc long[Buckets];
        for (int k = 0; k < Buckets; k++) counts[k] = (long)b[k];
        to.Add(counts, (long)h.Count, h.SumNs);
    }

    private Dictionary<uint, List<(uint Reason, long N)>> KernelDropsBySlot()
    {
        var bySlot = new Dictionary<uint, List<(uint, long)>>();
        var perCpu = new ulong[_cpus];
        foreach (var key in _kernelDrops.Keys<CountingPrograms.KernelDrop>(4096))
        {
            if (!_kernelDrops.LookupPerCpu(key, perCpu.AsSpan())) continue;
            long n = 0;
            foreach (var c in perCpu) n += (long)c;
            if (!bySlot.TryGetValue(key.Slot, out var list)) bySlot[key.Slot] = list = [];
            list.Add((key.Reason, n));
        }
        return bySlot;
    }

    /// <summary>A listener's slot is done: its figures go on under its listener, and the slot is
    /// zeroed and handed back to the kernel.</summary>
    private void Retire(uint slot, in CountingPrograms.SlotInfo info, ListenerAggregate figures, long accepts, long now)
    {
        var key = figures.Key;
        if (!_retired.TryGetValue(key, out var r)) _retired[key] = r = new Retired(new ListenerAggregate(key));
        (figures.Q, figures.Q0) = (0, 0); // it has no queues any more; its limit is its final value
        Merge(r.Figures, figures);
        r.Accepts += Math.Max(accepts, 0);
        r.LastSeenNs = now;

        var slotKey = new SlotKey { Address = info.Address, NetNs = info.NetNs, Port = info.Port };
        if (_byKey.Lookup(slotKey, out uint owner) && owner == slot) _byKey.Delete(slotKey);
        foreach (var drop in _kernelDrops.Keys<CountingPrograms.KernelDrop>(4096))
            if (drop.Slot == slot) _kernelDrops.Delete(drop);
        _counts.Update(slot, _zeros.AsSpan());
        CountingPrograms.SlotInfo free = default;
        _infos.Update(slot, new ReadOnlySpan<CountingPrograms.SlotInfo>(in free));
        _free.Push(slot);
    }

    private ListenerAggregate WithAccepts(ListenerAggregate figures, long accepts)
    {
        long shown = Math.Max(accepts, _acceptsShown.GetValueOrDefault(figures.Key));
        _acceptsShown[figures.Key] = shown;
        figures.Accepts = shown;
        return figures;
    }

    /// <summary>Adds <paramref name="from"/>'s counters, histograms and queues to <paramref name="to"/>
    /// (listeners of one address: a reuseport group, or one that closed and opened again).</summary>
    private static void Merge(ListenerAggregate to, ListenerAggregate from)
    {
        to.Syns += from.Syns;
        to.SynRetries += from.SynRetries;
        to.SynCookies += from.SynCookies;
        to.SynAckRetransmits += from.SynAckRetransmits;
        to.Handshakes += from.Handshakes;
        foreach (var (reason, n) in from.SynDrops) to.SynDrops[reason] = to.SynDrops.GetValueOrDefault(reason) + n;
        foreach (var (reason, n) in from.AckDrops) to.AckDrops[reason] = to.AckDrops.GetValueOrDefault(reason) + n;
        foreach (var (reason, n) in from.Aborts) to.Aborts[reason] = to.Aborts.GetValueOrDefault(reason) + n;
        to.Q += from.Q;
        to.Q0 += from.Q0;
        to.QMax += from.QMax;
        to.PeakQ = Math.Max(to.PeakQ, from.PeakQ);
        to.PeakQ0 = Math.Max(to.PeakQ0, from.PeakQ0);
        to.LastNs = Math.Max(to.LastNs, from.LastNs);
        if (to.CgroupId == 0) to.CgroupId = from.CgroupId; // the first socket's of a reuseport group
        to.Handshake.Add(from.Handshake.Counts, from.Handshake.Count, from.Handshake.SumNs);
        to.QueueWait.Add(from.QueueWait.Counts, from.QueueWait.Count, from.QueueWait.SumNs);
        to.SynToAccept.Add(from.SynToAccept.Counts, from.SynToAccept.Count, from.SynToAccept.SumNs);
    }

    private static ListenerAggregate Copy(ListenerAggregate from)
    {
        var to = new ListenerAggregate(from.Key);
        Merge(to, from);
        return to;
    }

    public void Dispose() => _kernel.Dispose();

    private sealed class Retired(ListenerAggregate figures)
    {
        public ListenerAggregate Figures { get; } = figures;
        public long Accepts;
        public long LastSeenNs;
    }

    /// <summary>enum tcpq_counter in bpf/tcpq.h.</summary>
    internal enum Counter
    {
        Syn, SynRetry, SynCookie, SynAckRetrans, Established,
        SynDropAcceptQueueFull, SynDropSynQueueFull, SynDropListen,
        AckDropAcceptQueueFull, AckDropCookie, AckDropListen,
        AbortHalfOpen, AbortReset, AbortClosed, AbortListenerClosed, AbortDiscarded,
        Missed, Uncounted,
        Count,
    }

    /// <summary>The row of <c>tcpq trace</c> each counter counts (its kind, and its reason, or for
    /// a syn whether it was a retry): the counting rule's kernel half. Null: not a row, but what
    /// counting missed (reported as lost).</summary>
    internal static readonly (EventKind Kind, uint Reason)?[] CounterRows = Rows(
        (Counter.Syn, EventKind.Syn, CountingRule.FirstSyn),
        (Counter.SynRetry, EventKind.Syn, CountingRule.RetriedSyn),
        (Counter.SynCookie, EventKind.SynCookie, 0),
        (Counter.SynAckRetrans, EventKind.SynAckRetrans, 0),
        (Counter.Established, EventKind.SynAa, 0),
        (Counter.SynDropAcceptQueueFull, EventKind.SynDrop, DropReasons.AcceptQueueFull),
        (Counter.SynDropSynQueueFull, EventKind.SynDrop, DropReasons.SynQueueFull),
        (Counter.SynDropListen, EventKind.SynDrop, DropReasons.ListenDrop),
        (Counter.AckDropAcceptQueueFull, EventKind.AckDrop, DropReasons.AcceptQueueFull),
        (Counter.AckDropCookie, EventKind.AckDrop, DropReasons.CookieAckOverflow),
        (Counter.AckDropListen, EventKind.AckDrop, DropReasons.ListenDrop),
        (Counter.AbortHalfOpen, EventKind.Abort, DropReasons.PeerReset),
        (Counter.AbortReset, EventKind.Abort, DropReasons.PeerReset),
        (Counter.AbortClosed, EventKind.Abort, DropReasons.PeerClosed),
        (Counter.AbortListenerClosed, EventKind.Abort, DropReasons.ListenerClosed),
        (Counter.AbortDiscarded, EventKind.Abort, DropReasons.ChildDiscarded));

    private static (EventKind, uint)?[] Rows(params (Counter Counter, EventKind Kind, uint Reason)[] rows)
    {
        var table = new (EventKind, uint)?[Counters];
        foreach (var (counter, kind, reason) in rows) table[(int)counter] = (kind, reason);
        return table;
    }

    [InlineArray(Counters)]
    internal struct CounterValues
    {
        private ulong _n;
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

    /// <summary>struct tcpq_slot_counts.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SlotCounts
    {
        public CounterValues N;
        public uint PeakQ, PeakQ0;
        public Histogram Handshake, QueueWait, SynToAccept;
    }

    /// <summary>struct slot_key in bpf/count_slots.h.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SlotKey
    {
        public Address16 Address;
        public uint NetNs;
        public ushort Port;
        public ushort Pad;
    }
}
