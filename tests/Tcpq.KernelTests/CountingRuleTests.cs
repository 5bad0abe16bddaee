using System.Net;
using Tcpq.Aggregates;
using Tcpq.Events;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>The counting rule, kernel against C#, as EventLayoutTests checks the layouts: each case
/// is one event, counted by the kernel's account() in the compiled object and read back as serve
/// and top read it, and counted by <see cref="EventAggregator"/> from the same event through
/// <see cref="CountingRule"/>. Both must give its listener the same figures, and the kernel's one
/// counter must be the (kind, slot) the table names. Change account() or the table alone, and a
/// case here fails. Each case counts at a listener of its own.</summary>
public sealed class CountingRuleTests(AccountProbe kernel) : IClassFixture<AccountProbe>
{
    private const uint NetNs = 4026531840;
    private static readonly Address16 Listener = Address16.FromV4(IPAddress.Loopback.GetAddressBytes());

    private static readonly (string Name, TcpqEvent Event)[] Cases =
    [
        ("syn, the first of its connection", Syn(attempt: 1)),
        ("syn, a client's first retry", Syn(attempt: 2)),
        ("syn, a client's later retry", Syn(attempt: 3) with { WaitNs = 1_000_200_300, Flags = EventFlags.Queues | EventFlags.Drops | EventFlags.Attempt | EventFlags.Wait }),
        ("syn whose attempt is not valid", Syn(attempt: 4) with { Flags = EventFlags.Queues | EventFlags.Drops }),
        ("syn-drop, accept queue full", Listened(EventKind.SynDrop, DropReasons.AcceptQueueFull) with { Q = 9, QMax = 8 }),
        ("syn-drop, SYN queue full", Listened(EventKind.SynDrop, DropReasons.SynQueueFull) with { Q0 = 8, QMax = 8 }),
        ("syn-drop, a reason of the kernel's", Listened(EventKind.SynDrop, 5)),
        ("syn-drop, a listen drop", Listened(EventKind.SynDrop, DropReasons.ListenDrop)),
        ("ack-drop, accept queue full, 2nd of its handshake", Listened(EventKind.AckDrop, DropReasons.AcceptQueueFull, attempt: 2) with { WaitNs = 3_000_000, Flags = EventFlags.Queues | EventFlags.Drops | EventFlags.Attempt | EventFlags.Wait }),
        ("ack-drop, a SYN cookie's ACK refused", Listened(EventKind.AckDrop, DropReasons.CookieAckOverflow)),
        ("syn-cookie", Listened(EventKind.SynCookie, 0)),
        ("synack-retrans", Listened(EventKind.SynAckRetrans, 0, attempt: 2) with { WaitNs = 1_000_000_000, Flags = EventFlags.Queues | EventFlags.Drops | EventFlags.Attempt | EventFlags.Wait }),
        ("syn-aa with its handshake", Connection(EventKind.SynAa, waitNs: 150_000) with { Q0 = 1, Q = 2, QMax = 16, Flags = EventFlags.Queues | EventFlags.Drops | EventFlags.Wait | EventFlags.Attempt, Attempt = 1 }),
        ("syn-aa in under a microsecond", Connection(EventKind.SynAa, waitNs: 999)),
        ("syn-aa whose SYN was not seen", Connection(EventKind.SynAa, waitNs: null)),
        ("accept with its time in the queue", Connection(EventKind.Accept, waitNs: 2_500_000_000) with { Pid = 42, Flags = EventFlags.Wait | EventFlags.Task }),
        ("accept after an hour in the queue", Connection(EventKind.Accept, waitNs: 3_600_000_000_000)),
        ("accept of a connection not seen queued", Connection(EventKind.Accept, waitNs: null)),
        ("abort, reset while half-open", Listened(EventKind.Abort, DropReasons.PeerReset) with { WaitNs = 20_000, Flags = EventFlags.Queues | EventFlags.Drops | EventFlags.Wait }),
        ("abort, closed while queued", Connection(EventKind.Abort, waitNs: 7_000_000) with { Reason = DropReasons.PeerClosed }),
        ("abort, a child socket discarded", Connection(EventKind.Abort, waitNs: null) with { Reason = DropReasons.ChildDiscarded }),
        ("first-read", Connection(EventKind.FirstRead, waitNs: 40_000)),
        ("first-write", Connection(EventKind.FirstWrite, waitNs: 60_000)),
        ("close", Connection(EventKind.Close, waitNs: 5_000_000) with { Closer = Closer.Peer, Flags = EventFlags.Wait | EventFlags.Closer }),
    ];

    public static TheoryData<string> CaseNames() => [.. Cases.Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void The_kernel_counts_an_event_as_the_table_says(string name)
    {
        int i = Array.FindIndex(Cases, c => c.Name == name);
        var e = Cases[i].Event;
        e.DestPort = (ushort)(41000 + i); // a listener of its own
        e.TsNs = 1_000_000_000UL * (ulong)(i + 1);
        var listener = new ListenerKey(e.NetNs, e.DestAddress, e.DestPort);

        kernel.Account(e);
        var counted = Assert.Single(kernel.Listeners(), l => l.Key == listener);
        var table = new EventAggregator();
        table.OnEvent(e);

        Assert.Equal(Figures.Of(Assert.Single(table.Listeners)), Figures.Of(counted));
        Assert.Equal(new List<(EventKind, uint)> { (e.Kind, CountingRule.SlotOf(e)) }, kernel.Counters(listener));
        Assert.Equal(0ul, kernel.Missed);
    }

    /// <summary>What account() gives a listener, as comparable values (not the last time seen, which
    /// the kernel keeps for queue readings only, nor SYN to accept, which accept() joins apart).</summary>
    private sealed record Figures(
        long Syns, long SynRetries, long SynCookies, long SynAckRetransmits, long Handshakes, long Accepts,
        string SynDrops, string AckDrops, string Aborts, uint Q0, uint Q, uint QMax, uint PeakQ, uint PeakQ0,
        string Handshake, string QueueWait)
    {
        public static Figures Of(ListenerAggregate a) => new(
            a.Syns, a.SynRetries, a.SynCookies, a.SynAckRetransmits, a.Handshakes, a.Accepts,
            ByReason(a.SynDrops), ByReason(a.AckDrops), ByReason(a.Aborts), a.Q0, a.Q, a.QMax, a.PeakQ, a.PeakQ0,
            Histogram(a.Handshake), Histogram(a.QueueWait));

        private static string ByReason(Dictionary<uint, long> counts) =>
            string.Join(' ', counts.Where(c => c.Value != 0).OrderBy(c => c.Key).Select(c => $"{c.Key:x}={c.Value}"));

        private static string Histogram(Log2Histogram h)
        {
            var buckets = new List<string>();
            for (int k = 0; k < h.Counts.Length; k++)
                if (h.Counts[k] != 0) buckets.Add($"[{k}]={h.Counts[k]}");
            return $"{h.Count} in {h.SumNs} ns: {string.Join(' ', buckets)}";
        }
    }

    private static TcpqEvent Base(EventKind kind) => new()
    {
        Kind = kind, NetNs = NetNs, DestAddress = Listener,
        SourceAddress = Address16.FromV4([10, 1, 2, 3]), SourcePort = 50123,
    };

    /// <summary>An event of the listener path: it carries the listener's queues.</summary>
    private static TcpqEvent Listened(EventKind kind, uint reason, uint attempt = 1) => Base(kind) with
    {
        Reason = reason, Q0 = 3, Q = 4, QMax = 128, Drops = 7, Attempt = attempt,
        Flags = EventFlags.Queues | EventFlags.Drops | EventFlags.Attempt,
    };

    private static TcpqEvent Syn(uint attempt) => Listened(EventKind.Syn, 0, attempt);

    /// <summary>An event of the connection's own socket: a wait when one is known, no queues.</summary>
    private static TcpqEvent Connection(EventKind kind, ulong? waitNs) => Base(kind) with
    {
        WaitNs = waitNs ?? 0,
        Flags = waitNs is null ? EventFlags.None : EventFlags.Wait,
    };
}
