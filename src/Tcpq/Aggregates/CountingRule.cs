using Tcpq.Events;

namespace Tcpq.Aggregates;

/// <summary>
/// The counting rule, once: which of a listener's figures an event moves. Both ways of counting go
/// through it: <see cref="EventAggregator"/> with each event of a stream, <see cref="KernelCounters"/>
/// with each counter counting mode's kernel side kept, so serve and top say the same whichever
/// source counted.
/// <para>The kernel's half is <see cref="KernelCounters.CounterRows"/>: each of bpf/count.bpf.c's
/// counters is one kind of row, (kind, <see cref="SlotOf">slot</see>). tests/Tcpq.Tests/CountLayoutTests.cs
/// checks that table against the compiled object's enum, and tests/Tcpq.KernelTests/KernelCountersTests.cs
/// that the counts equal the kernel's own (nstat) and nginx's accepts.</para>
/// </summary>
public static class CountingRule
{
    /// <summary>A <c>syn</c>'s slot: its connection's first SYN, or a client's retry (Attempt &gt; 1).</summary>
    public const uint FirstSyn = 0, RetriedSyn = 1;

    /// <summary>Adds <paramref name="n"/> events of one kind, counted in <paramref name="slot"/>, to a listener.</summary>
    private delegate void Counter(ListenerAggregate a, uint slot, long n);

    private readonly record struct Row(Counter Count, Func<ListenerAggregate, Log2Histogram>? Wait);

    /// <summary>By kind: the counters it moves and the histogram its wait goes to. A kind not here
    /// (the application's rows) moves nothing.</summary>
    private static readonly Row?[] ByKind = Table(
        (EventKind.Syn, (a, slot, n) => { a.Syns += n; if (slot == RetriedSyn) a.SynRetries += n; }, null),
        (EventKind.SynDrop, (a, reason, n) => Add(a.SynDrops, reason, n), null),
        (EventKind.AckDrop, (a, reason, n) => Add(a.AckDrops, reason, n), null),
        (EventKind.Abort, (a, reason, n) => Add(a.Aborts, reason, n), null),
        (EventKind.SynCookie, (a, _, n) => a.SynCookies += n, null),
        (EventKind.SynAckRetrans, (a, _, n) => a.SynAckRetransmits += n, null),
        (EventKind.SynAa, (a, _, n) => a.Handshakes += n, a => a.Handshake),   // its wait: first SYN -> syn-aa
        (EventKind.Accept, (a, _, n) => a.Accepts += n, a => a.QueueWait));    // its wait: syn-aa -> accept

    /// <summary>What an event counts under beside its kind: for a syn whether it was a
    /// retry, for every other kind its reason.</summary>
    public static uint SlotOf(in TcpqEvent e) => e.Kind == EventKind.Syn
        ? (e.Has(EventFlags.Attempt) && e.Attempt > 1 ? RetriedSyn : FirstSyn)
        : e.Reason;

    /// <summary>Counts one event of a stream into its listener.</summary>
    public static void Count(ListenerAggregate a, in TcpqEvent e)
    {
        if (e.Has(EventFlags.Queues))
        {
            (a.Q0, a.Q, a.QMax) = (e.Q0, e.Q, e.QMax);
            if (e.Q > a.PeakQ) a.PeakQ = e.Q;
            if (e.Q0 > a.PeakQ0) a.PeakQ0 = e.Q0;
        }
        if (RowOf(e.Kind) is not { } row) return;
        row.Count(a, SlotOf(e), 1);
        if (row.Wait != null && e.Has(EventFlags.Wait)) row.Wait(a).RecordNs(e.WaitNs);
    }

    /// <summary>Adds <paramref name="n"/> events the kernel counted under (kind, slot).</summary>
    public static void Count(ListenerAggregate a, EventKind kind, uint slot, long n) => RowOf(kind)?.Count(a, slot, n);

    private static Row? RowOf(EventKind kind) => (int)kind < ByKind.Length ? ByKind[(int)kind] : null;

    private static void Add(Dictionary<uint, long> counts, uint reason, long n) => counts[reason] = counts.GetValueOrDefault(reason) + n;

    private static Row?[] Table(params (EventKind Kind, Counter Count, Func<ListenerAggregate, Log2Histogram>? Wait)[] rows)
    {
        var byKind = new Row?[rows.Max(r => (int)r.Kind) + 1];
        foreach (var (kind, count, wait) in rows) byKind[(int)kind] = new Row(count, wait);
        return byKind;
    }
}
