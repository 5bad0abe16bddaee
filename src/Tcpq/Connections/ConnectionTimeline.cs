using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>
/// Everything seen of one connection, from its first SYN to accept() or abort. Fields are merged
/// so that the order events arrive in does not matter: the first SYN is the earliest time any
/// event implies (a retry's or syn-aa's Wait us reaches back to it), counts only grow.
/// Instances are pooled by <see cref="ConnectionTable"/>: <see cref="Reset"/> clears one for reuse.
/// </summary>
public sealed partial class ConnectionTimeline
{
    public ConnectionKey Key;
    public ulong FirstSynNs;        // 0: unknown (began before tracing, or the seed format)
    public ulong LastNs;
    public uint Syns;               // syn events seen
    public uint MaxAttempt;         // the highest Attempt any event carried
    public uint Drops;              // syn-drop + ack-drop
    public uint FirstDropReason;
    public uint DropQ, DropQMax;    // the queues at the last drop, for the text
    public bool DropHadQueues;
    public uint SynAckRetrans;
    public bool Cookie;
    public ulong EstablishedNs;     // syn-aa
    public ulong HandshakeNs;       // syn-aa's Wait us (first SYN to syn-aa), when the kernel knew it
    public ulong AcceptNs;
    public ulong QueueWaitNs;       // accept's Wait us (syn-aa to accept), when the kernel knew it
    public bool HasHandshake, HasQueueWait;
    public uint Pid;
    public Comm16 Comm;
    public ulong AbortNs;
    public uint AbortReason;
    public bool SawFirstSyn;        // a syn with Attempt 1 (or, without the column, any syn)
    public uint FullSyns;           // syns that found the accept queue at its limit (Q ≥ Qmax)
    public uint FullSynQ, FullSynQMax;
    public uint AckDrops;           // segments refused at the end of the handshake (final ACK, data, cookie ACK)
    public ulong FirstAckDropNs, LastAckDropNs;

    // ConnectionTable's intrusive LRU list
    internal ConnectionTimeline? Prev, Next;
    internal bool InDoneList;

    public bool Established => EstablishedNs != 0 || HasHandshake;
    public bool Accepted => AcceptNs != 0;
    public bool Aborted => AbortNs != 0;
    /// <summary>Nothing more is expected: accepted or given up.</summary>
    public bool Done => Accepted || Aborted;
    /// <summary>Reset by its client while in the accept queue: the kernel keeps it there, and
    /// accept() will yet take it, however late. It is not lingering, it is waiting.</summary>
    public bool AwaitingAccept => Aborted && Established && !Accepted;
    /// <summary>Done, and kept only for late events: expires after the tracker's linger time.</summary>
    public bool Lingers => Done && !AwaitingAccept && !AwaitingApp;

    /// <summary>How long refused ACK and data segments held the handshake: from the first refused
    /// to the handshake's completion, or to the last refused when it never completed.</summary>
    public ulong? AckHoldNs =>
        AckDrops == 0 ? null
        : EstablishedNs >= FirstAckDropNs && EstablishedNs != 0 ? EstablishedNs - FirstAckDropNs
        : LastAckDropNs - FirstAckDropNs;
    public uint Attempts => Math.Max(Syns, MaxAttempt);
    /// <summary>For input without drop rows (the seed format, see
    /// <see cref="ConnectionTracker.InferDropsFromQueues"/>): retried SYNs that had found the accept
    /// queue at its limit, dropped for accept-queue-full. Counted once the timeline ends, so order
    /// does not matter.</summary>
    public uint InferredDrops => !InferDrops ? 0 : Math.Min(FullSyns, Attempts > 0 ? Attempts - 1 : 0) is var n && n > Drops ? n - Drops : 0;
    internal bool InferDrops;

    /// <summary>Its first SYN came before tracing started (or was lost to tcpq).</summary>
    public bool BeganBeforeTrace => !SawFirstSyn;

    public void Reset(in ConnectionKey key)
    {
        Clear();
        Key = key;
        Prev = Next = null;
    }

    private void Clear()
    {
        Key = default;
        FirstSynNs = LastNs = EstablishedNs = HandshakeNs = AcceptNs = QueueWaitNs = AbortNs = 0;
        FullSyns = FullSynQ = FullSynQMax = AckDrops = 0;
        FirstAckDropNs = LastAckDropNs = 0;
        Syns = MaxAttempt = Drops = FirstDropReason = DropQ = DropQMax = SynAckRetrans = Pid = AbortReason = 0;
        DropHadQueues = Cookie = HasHandshake = HasQueueWait = SawFirstSyn = InDoneList = false;
        Comm = default;
        ClearApp();
    }

    /// <summary>First SYN to syn-aa: the kernel's own figure when it has one, else the timestamps.</summary>
    public ulong? Handshake =>
        HasHandshake ? HandshakeNs
        : EstablishedNs != 0 && FirstSynNs != 0 && EstablishedNs >= FirstSynNs ? EstablishedNs - FirstSynNs
        : null;

    /// <summary>syn-aa to accept(): time in the accept queue.</summary>
    public ulong? QueueWait =>
        HasQueueWait ? QueueWaitNs
        : AcceptNs != 0 && EstablishedNs != 0 && AcceptNs >= EstablishedNs ? AcceptNs - EstablishedNs
        : null;

    /// <summary>First SYN to accept().</summary>
    public ulong? Total =>
        AcceptNs != 0 && FirstSynNs != 0 && AcceptNs >= FirstSynNs ? AcceptNs - FirstSynNs
        : Handshake is ulong h && QueueWait is ulong q ? h + q
        : null;

    /// <summary>How long the client has been at it, whatever the outcome: used to rank the slowest.</summary>
    public ulong Duration
    {
        get
        {
            if (Total is ulong t) return t;
            ulong end = AcceptNs != 0 ? AcceptNs : AbortNs != 0 ? AbortNs : LastNs;
            if (FirstSynNs != 0 && end >= FirstSynNs) return end - FirstSynNs;
            return (Handshake ?? 0) + (QueueWait ?? 0);
        }
    }

    /// <summary>Merges one event into the timeline.</summary>
    public void Apply(in TcpqEvent e)
    {
        if (e.TsNs > LastNs) LastNs = e.TsNs;
        // an ack-drop's Attempt counts refused segments, not SYNs
        if (e.Has(EventFlags.Attempt) && e.Attempt > MaxAttempt && e.Kind != EventKind.AckDrop) MaxAttempt = e.Attempt;
        switch (e.Kind)
        {
            case EventKind.Syn:
                Syns++;
                if (!e.Has(EventFlags.Attempt) || e.Attempt <= 1) SawFirstSyn = true;
                if (e.Has(EventFlags.Queues) && e.QMax > 0 && e.Q >= e.QMax) { FullSyns++; (FullSynQ, FullSynQMax) = (e.Q, e.QMax); }
                NoteFirstSyn(e.TsNs, e.Has(EventFlags.Wait) ? e.WaitNs : 0);
                break;
            case EventKind.SynDrop:
            case EventKind.AckDrop:
                if (Drops++ == 0) FirstDropReason = e.Reason;
                if (e.Has(EventFlags.Queues)) { DropQ = e.Q; DropQMax = e.QMax; DropHadQueues = true; }
                if (e.Has(EventFlags.Wait)) NoteFirstSyn(e.TsNs, e.WaitNs);
                if (e.Kind == EventKind.AckDrop)
                {
                    if (AckDrops++ == 0 || e.TsNs < FirstAckDropNs) FirstAckDropNs = e.TsNs;
                    if (e.TsNs > LastAckDropNs) LastAckDropNs = e.TsNs;
                }
                break;
            case EventKind.SynCookie:
                Cookie = true;
                break;
            case EventKind.SynAckRetrans:
                SynAckRetrans++;
                if (e.Has(EventFlags.Wait)) NoteFirstSyn(e.TsNs, e.WaitNs);
                break;
            case EventKind.SynAa:
                EstablishedNs = e.TsNs;
                if (e.Has(EventFlags.Wait))
                {
                    HandshakeNs = e.WaitNs;
                    HasHandshake = true;
                    NoteFirstSyn(e.TsNs, e.WaitNs);
                }
                break;
            case EventKind.Accept:
                AcceptNs = e.TsNs;
                if (e.Has(EventFlags.Wait)) { QueueWaitNs = e.WaitNs; HasQueueWait = true; }
                if (e.Has(EventFlags.Task)) { Pid = e.Pid; Comm = e.Comm; }
                break;
            case EventKind.Abort:
                AbortNs = e.TsNs;
                AbortReason = e.Reason;
                break;
            default:
                ApplyApp(e);
                break;
        }
    }

    private void NoteFirstSyn(ulong ts, ulong waitNs)
    {
        if (waitNs > ts) return;
        ulong first = ts - waitNs;
        if (FirstSynNs == 0 || first < FirstSynNs) FirstSynNs = first;
    }
}
