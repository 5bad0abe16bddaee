using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>The instants a trace shows as span events: drops, the client's retries, SYN cookies,
/// SYN-ACK retransmits, the abort. Kept only when the tracker is asked to
/// (<see cref="TrackerOptions.KeepMarks"/>, for spans): the summary needs counts, not times, so a
/// trace without spans keeps its timelines as small and as cheap per event as before.</summary>
public sealed partial class ConnectionTimeline
{
    /// <summary>At most this many marks a connection: a client refused for minutes, or a flood of
    /// refused ACKs, keeps its first ones (<see cref="MarksLeftOut"/> counts the rest).</summary>
    public const int MaxMarks = 32;

    private List<TimelineMark>? _marks;
    internal bool KeepMarks;

    /// <summary>In the order they came (empty unless kept). The list is pooled with the timeline.</summary>
    public IReadOnlyList<TimelineMark> Marks => _marks ?? (IReadOnlyList<TimelineMark>)[];
    public uint MarksLeftOut { get; private set; }

    private void Mark(in TcpqEvent e)
    {
        bool retry = e.Kind == EventKind.Syn && e.Has(EventFlags.Attempt) && e.Attempt > 1;
        bool marked = retry || e.Kind is EventKind.SynDrop or EventKind.AckDrop or EventKind.SynCookie or EventKind.SynAckRetrans
            || (e.Kind == EventKind.Abort && e.Reason != DropReasons.ChildDiscarded);
        if (!marked) return;
        _marks ??= new List<TimelineMark>(4);
        if (_marks.Count >= MaxMarks) { MarksLeftOut++; return; }
        _marks.Add(new TimelineMark(e.Kind, e.TsNs, e.Reason, e.Has(EventFlags.Attempt) ? e.Attempt : 0));
    }

    private void ClearMarks()
    {
        _marks?.Clear();
        MarksLeftOut = 0;
        KeepMarks = false;
    }
}

/// <summary>One instant of a connection: its kind (a syn is a client's retry), the kernel's
/// monotonic ns, the reason (a DropReasons value) and the Attempt the event carried (0: none).</summary>
public readonly record struct TimelineMark(EventKind Kind, ulong AtNs, uint Reason, uint Attempt);
