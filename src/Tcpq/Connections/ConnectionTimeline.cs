using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>
/// Everything seen of one connection, from its first SYN to accept() or abort, and into the
/// application: its first read, first write and close. Fields are merged
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
    public bool HandshakeSide;      // any event from before the application (syn … accept, abort)
    /// <summary>Into the application (first-read, first-write, close): null until such a row comes,
    /// so that a trace without them keeps its timelines as small as before.</summary>
    public ApplicationPart? App;
    private ApplicationPart A => App ??= new ApplicationPart();
    public ulong FirstReadNs => App?.FirstReadNs ?? 0;
    public ulong FirstWriteNs => App?.FirstWriteNs ?? 0;
    public ulong CloseNs => App?.CloseNs ?? 0;
    public ulong FirstReadBytes => App?.FirstReadBytes ?? 0;
    public ulong FirstWriteBytes => App?.FirstWriteBytes ?? 0;
    public ulong BytesReadBeforeWrite => App?.BytesReadBeforeWrite ?? 0;
    public ulong BytesIn => App?.BytesIn ?? 0;
    public ulong BytesOut => App?.BytesOut ?? 0;
    public bool CloseReset => App?.CloseReset ?? false;
    public Closer Closer => App?.Closer ?? Closer.None;
    /// <summary>Which application rows the trace holds, so which ones to wait for (set by the tracker).</summary>
    internal ApplicationRows Expect;

    // ConnectionTable's intrusive LRU list
    internal ConnectionTimeline? Prev, Next;
    /// <summary>The connection before this one on the same 4-tuple, still held (a client that
    /// reconnected from the same port); <see cref="Newer"/> the one after it.</summary>
    internal ConnectionTimeline? Older, Newer;
    internal bool InDoneList;

    public bool Established => EstablishedNs != 0 || HasHandshake || AcceptNs != 0; // accept() takes only established connections
    public bool Accepted => AcceptNs != 0;
    public bool Aborted => AbortNs != 0;
    /// <summary>Nothing more is expected: accepted or given up.</summary>
    public bool Done => Accepted || Aborted || Closed;
    /// <summary>Reset by its client while in the accept queue: the kernel keeps it there, and
    /// accept() will yet take it, however late. It is not lingering, it is waiting.</summary>
    public bool AwaitingAccept => Aborted && Established && !Accepted;
    public bool Read => FirstReadNs != 0;
    public bool Written => FirstWriteNs != 0;
    public bool Closed => CloseNs != 0;
    /// <summary>Accepted, and rows from inside the application are still to come: its first read
    /// or write, or its close when the trace has close rows.</summary>
    public bool AwaitingApplication =>
        Accepted && !Closed && Expect != ApplicationRows.None
        && ((Expect & ApplicationRows.Close) != 0 || ((Expect & ApplicationRows.FirstRead) != 0 && !Read) || ((Expect & ApplicationRows.FirstWrite) != 0 && !Written));
    /// <summary>Done, and kept only for late events: expires after the tracker's linger time.</summary>
    public bool Lingers => Done && !AwaitingAccept && !AwaitingApplication && !AwaitingApp;
    /// <summary>Only rows from inside the application: its handshake came before tracing, or the
    /// timeline of its handshake ended before them (a connection that lived longer than it could be held).</summary>
    public bool OnlyApplication => !HandshakeSide;

    /// <summary>How long refused ACK and data segments held the handshake: from the first refused
    /// to the handshake's completion or, when it never completed, to the last thing seen of the
    /// connection (the client giving up with a reset, or the end of the trace).</summary>
    public ulong? AckHoldNs =>
        AckDrops == 0 ? null
        : EstablishedNs >= FirstAckDropNs && EstablishedNs != 0 ? EstablishedNs - FirstAckDropNs
        : Math.Max(LastNs, LastAckDropNs) - FirstAckDropNs;
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
        Prev = Next = Older = Newer = null;
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
        HandshakeSide = false;
        App?.Clear();
        Expect = ApplicationRows.None;
        ClearApp();
        ClearMarks();
        ClearRequestSpans();
    }

    /// <summary>First SYN to syn-aa: the kernel's own figure when it has one, else the timestamps.</summary>
    public ulong? Handshake =>
        HasHandshake ? HandshakeNs
        : EstablishedNs != 0 && FirstSynNs != 0 && EstablishedNs >= FirstSynNs ? EstablishedNs - FirstSynNs
        // no syn-aa row (a run of the kernel program skipped): accept's Wait us reaches back to it
        : HasQueueWait && AcceptNs != 0 && FirstSynNs != 0 && AcceptNs - QueueWaitNs >= FirstSynNs && QueueWaitNs <= AcceptNs ? AcceptNs - QueueWaitNs - FirstSynNs
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

    /// <summary>accept() to the first read that returned data.</summary>
    public ulong? AcceptToRead =>
        App is { HasAcceptToRead: true } a ? a.AcceptToReadNs
        : Read && AcceptNs != 0 && FirstReadNs >= AcceptNs ? FirstReadNs - AcceptNs
        : null;

    /// <summary>How long the first request waited in the socket when it was read.</summary>
    public ulong? DataAge => App is { HasDataAge: true } a ? a.DataAgeNs : null;

    /// <summary>How long the application had both the connection and its first data but did not
    /// read: the data's age at the read, or the time since accept() when the data came earlier.</summary>
    public ulong? Unread => DataAge is ulong age && AcceptToRead is ulong a ? Math.Min(age, a) : null;

    /// <summary>The first request arrived before accept(): how long before.</summary>
    public ulong? BeforeAccept => DataAge is ulong age && AcceptToRead is ulong a && age > a ? age - a : null;

    /// <summary>The application wrote before it read anything (a server that speaks first).</summary>
    public bool WroteFirst => Written && BytesReadBeforeWrite == 0 && (!Read || FirstReadNs > FirstWriteNs);

    /// <summary>The first read to the first write after it: the application's answer.</summary>
    public ulong? ReadToWrite =>
        !Written || WroteFirst ? null
        : App is { HasWriteWait: true } a ? a.WriteWaitNs
        : Read && FirstWriteNs >= FirstReadNs ? FirstWriteNs - FirstReadNs
        : null;

    /// <summary>accept() to the connection's end.</summary>
    public ulong? Lifetime =>
        App is { HasLifetime: true } a ? a.LifetimeNs
        : Closed && AcceptNs != 0 && CloseNs >= AcceptNs ? CloseNs - AcceptNs
        : null;

    /// <summary>First SYN to the application's first answer (its first write after a read).</summary>
    public ulong? ToFirstAnswer =>
        ReadToWrite is not ulong rw ? null
        : FirstSynNs != 0 && FirstWriteNs >= FirstSynNs ? FirstWriteNs - FirstSynNs
        : Total is ulong t && AcceptToRead is ulong ar ? t + ar + rw
        : null;

    /// <summary>How long the client has been at it, whatever the outcome: used to rank the slowest.
    /// With rows from the application, until its first answer.</summary>
    public ulong Duration => Math.Max(HandshakeDuration, ToFirstAnswer ?? 0);

    private ulong HandshakeDuration
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
        if (!EventKinds.IsApplication(e.Kind)) HandshakeSide = true;
        if (KeepMarks) Mark(e);
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
                // a child socket the kernel threw away before it was established (another CPU made
                // this connection's socket first): the connection itself goes on to syn-aa and accept
                if (e.Reason == DropReasons.ChildDiscarded) break;
                AbortNs = e.TsNs;
                AbortReason = e.Reason;
                break;
            case EventKind.FirstRead:
            case EventKind.FirstWrite:
            case EventKind.Close:
                A.Apply(e);
                if (e.Kind != EventKind.Close && e.Has(EventFlags.Task) && Pid == 0) { Pid = e.Pid; Comm = e.Comm; }
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
