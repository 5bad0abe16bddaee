using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>
/// Everything counted for one listening socket. Event counters (SYNs, retries, drops, SYN-ACK
/// retransmits, cookies) are exact: they are counted as the events come. Connection counts,
/// latencies and the slowest list are counted as each timeline ends.
/// </summary>
public sealed partial class ListenerStats(ListenerKey key, bool isOverflow = false, int slowestCount = 5)
{
    public ListenerKey Key { get; } = key;
    /// <summary>Holds the listeners past the tracker's limit, merged.</summary>
    public bool IsOverflow { get; } = isOverflow;

    public long Connections, Established, Accepted, Aborted, BeganBeforeTrace;
    public long Expired, Evicted, StillOpen, EstablishedNotAccepted;
    public long Syns, Arrivals, Retries, SynAckRetrans, Cookies, AcceptQueueDrops, SynQueueDrops, AckDrops, Accepts;
    public readonly Dictionary<uint, long> Drops = [];      // syn-drop and ack-drop, by reason
    public readonly Dictionary<uint, long> SynDrops = [];   // syn-drop only
    public readonly Dictionary<uint, long> Aborts = [];
    public readonly LatencyHistogram Handshake = new(), QueueWait = new(), Total = new();
    /// <summary>Clients whose final ACK or data was refused at least once (an overflowed accept
    /// queue, or a SYN cookie that could not become a connection), and how long that held them.</summary>
    public long AckHeldClients;
    public readonly LatencyHistogram AckHold = new();
    /// <summary>Inside the application: first read, first write, close.</summary>
    public readonly ApplicationStats App = new();

    public ulong FirstNs, LastNs;
    public uint PeakQ, PeakQ0, QMax;
    public ulong QueueFullNs, QueueObservedNs;
    private ulong _lastQueueNs;
    private uint _q;
    private bool _full, _haveQueue;

    private readonly int _slowestCount = slowestCount;
    private readonly PriorityQueue<SlowConnection, ulong> _slowest = new();

    /// <summary>Seconds between this listener's first and last event (at least 1 ms).</summary>
    public double SpanSeconds => Math.Max(LastNs > FirstNs ? (LastNs - FirstNs) / 1e9 : 0, 0.001);

    public double QueueFullShare => QueueObservedNs == 0 ? 0 : (double)QueueFullNs / QueueObservedNs;

    /// <summary>The slowest connections, slowest first.</summary>
    public List<SlowConnection> Slowest() =>
        [.. _slowest.UnorderedItems.Select(x => x.Element).OrderByDescending(s => s.DurationNs)];

    internal void OnEvent(in TcpqEvent e, bool retry, bool wasEstablished)
    {
        if (FirstNs == 0 || e.TsNs < FirstNs) FirstNs = e.TsNs;
        if (e.TsNs > LastNs) LastNs = e.TsNs;
        switch (e.Kind)
        {
            case EventKind.Syn:
                Syns++;
                if (retry) Retries++; else Arrivals++;
                break;
            case EventKind.SynDrop:
            case EventKind.AckDrop:
                Drops[e.Reason] = Drops.GetValueOrDefault(e.Reason) + 1;
                if (e.Kind == EventKind.SynDrop) SynDrops[e.Reason] = SynDrops.GetValueOrDefault(e.Reason) + 1;
                if (e.Kind == EventKind.AckDrop) AckDrops++;
                if (e.Kind == EventKind.AckDrop || e.Reason == DropReasons.AcceptQueueFull) AcceptQueueDrops++;
                else if (e.Reason == DropReasons.SynQueueFull) SynQueueDrops++;
                break;
            case EventKind.SynCookie: Cookies++; break;
            case EventKind.SynAckRetrans: SynAckRetrans++; break;
            case EventKind.Accept: Accepts++; break;
            case EventKind.Abort when e.Reason == DropReasons.ChildDiscarded:
                // counted as it comes: it does not end its connection (see ConnectionTimeline.Apply)
                Aborts[e.Reason] = Aborts.GetValueOrDefault(e.Reason) + 1;
                break;
        }
        ObserveQueue(e, wasEstablished);
    }

    /// <summary>Follows the accept queue's length over time: each event with queue fields is a
    /// sample (syn-aa's is taken as the final ACK arrives, before the connection joins: +1);
    /// accept() and an abort from the queue take one out. Time between two observations counts
    /// as full when the first one was (Q ≥ Qmax). Out-of-order events only update the peaks.</summary>
    private void ObserveQueue(in TcpqEvent e, bool wasEstablished)
    {
        uint q;
        if (e.Has(EventFlags.Queues))
        {
            if (e.Q > PeakQ) PeakQ = e.Q;
            if (e.Q0 > PeakQ0) PeakQ0 = e.Q0;
            if (e.TsNs < _lastQueueNs) return;
            QMax = e.QMax;
            q = e.Kind == EventKind.SynAa ? e.Q + 1 : e.Q;
        }
        else if (_haveQueue && (e.Kind == EventKind.Accept || e.Kind == EventKind.Abort && wasEstablished))
        {
            if (e.TsNs < _lastQueueNs) return;
            q = _q > 0 ? _q - 1 : 0;
        }
        else return;

        if (_haveQueue)
        {
            ulong dt = e.TsNs - _lastQueueNs;
            QueueObservedNs += dt;
            if (_full) QueueFullNs += dt;
        }
        _haveQueue = true;
        _lastQueueNs = e.TsNs;
        _q = q;
        _full = q > 0 && q >= QMax;
    }

    internal void OnEnd(ConnectionTimeline t, TimelineEnd end)
    {
        App.OnEnd(t);
        // rows from the application alone: a connection tcpq saw only from there is not counted
        // again (its handshake was counted when its timeline ended, or came before tracing)
        if (t.OnlyApplication) return;
        Connections++;
        if (t.InferredDrops is var inferred and > 0)
        {
            Drops[DropReasons.AcceptQueueFull] = Drops.GetValueOrDefault(DropReasons.AcceptQueueFull) + inferred;
            SynDrops[DropReasons.AcceptQueueFull] = SynDrops.GetValueOrDefault(DropReasons.AcceptQueueFull) + inferred;
            AcceptQueueDrops += inferred;
        }
        if (t.Established) Established++;
        if (t.Accepted) Accepted++;
        if (t.Aborted)
        {
            Aborted++;
            Aborts[t.AbortReason] = Aborts.GetValueOrDefault(t.AbortReason) + 1;
        }
        if (t.BeganBeforeTrace) BeganBeforeTrace++;
        if (t.Established && !t.Accepted && !t.Aborted) EstablishedNotAccepted++;
        switch (end)
        {
            case TimelineEnd.Expired: Expired++; break;
            case TimelineEnd.Evicted: Evicted++; break;
            case TimelineEnd.StillOpen: StillOpen++; break;
        }
        if (t.Handshake is ulong h) Handshake.RecordNs(h);
        if (t.QueueWait is ulong w) QueueWait.RecordNs(w);
        if (t.Total is ulong total) Total.RecordNs(total);
        if (t.AckHoldNs is ulong held)
        {
            AckHeldClients++;
            AckHold.RecordNs(held);
        }
        OnEndApp(t);
        KeepIfSlow(t, end);
    }

    private void KeepIfSlow(ConnectionTimeline t, TimelineEnd end)
    {
        if (_slowestCount <= 0) return;
        ulong d = t.Duration;
        if (_slowest.Count >= _slowestCount)
        {
            _slowest.TryPeek(out _, out ulong least);
            if (d <= least) return;
            _slowest.Dequeue();
        }
        _slowest.Enqueue(SlowConnection.From(t, end), d);
    }
}
