using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Spans;

/// <summary>
/// trace's side of the seam: each connection the tracker finishes becomes one
/// <see cref="ConnectionSpan"/> for the sink. Plugged into the tracker as its
/// <see cref="TrackerOptions.Finished"/> callback (with <see cref="TrackerOptions.KeepMarks"/> for
/// the span events), so a trace without spans pays nothing for it. One span object is reused:
/// the sink copies what it keeps.
/// </summary>
public sealed class TimelineSpans(IConnectionSpanSink sink, DropReasons reasons, Func<ListenerKey, Workload?>? workloads = null)
{
    private readonly ConnectionSpan _span = new();
    // the last comm and its text: the same process accepts connection after connection, and the
    // ring buffer's reader should not make a string for each
    private Comm16 _comm;
    private string? _commText;
    // the reasons' names (peer-reset, accept-queue-full…), made once each: DropReasons.Name makes a
    // new string per call, and a load of resets would make the reader allocate one per connection
    private readonly Dictionary<uint, string> _reasonNames = [];

    public void OnFinished(ConnectionTimeline t, TimelineEnd end)
    {
        // rows of the application alone (accepted before tracing began, the handshake's timeline
        // long gone): no connection to draw
        if (t.OnlyApplication || sink.LeavesOut()) return;
        Fill(t, end, _span, reasons, CommText(t.Comm), _reasonNames);
        _span.Workload = workloads?.Invoke(t.Key.Listener);
        sink.Write(_span);
    }

    private string? CommText(in Comm16 comm)
    {
        if (_commText is null || !((ReadOnlySpan<byte>)comm).SequenceEqual(_comm))
            (_comm, _commText) = (comm, Comm16.Text(comm));
        return _commText;
    }

    /// <summary>The timeline as a span: its times, who accepted it, its marks as events.</summary>
    /// <param name="comm">The comm's text when the caller has it already (null: made here).</param>
    /// <param name="names">The reasons' names made so far, kept by the caller (null: made each time).</param>
    public static void Fill(ConnectionTimeline t, TimelineEnd end, ConnectionSpan span, DropReasons reasons, string? comm = null, Dictionary<uint, string>? names = null)
    {
        span.Reset();
        span.Key = t.Key;
        span.FirstSynNs = t.FirstSynNs;
        span.EstablishedNs = EstablishedNs(t);
        span.AcceptNs = t.AcceptNs;
        span.FirstReadNs = t.FirstReadNs;
        span.FirstWriteNs = t.FirstWriteNs;
        span.EndNs = Math.Max(t.LastNs, Math.Max(t.CloseNs, t.AbortNs));
        span.Pid = t.Pid;
        span.Comm = comm ?? Comm16.Text(t.Comm);
        span.Attempts = t.Attempts;
        // aborted before the application had it (a reset in the queue that accept() took later is
        // still the application's connection)
        span.Aborted = t.Aborted && !t.Accepted;
        span.AbortReason = span.Aborted ? Reason(reasons, t.AbortReason, names) : null;
        span.Unfinished = end switch
        {
            TimelineEnd.Expired => "expired",
            TimelineEnd.Evicted => "evicted",
            TimelineEnd.StillOpen => "still-open",
            _ => null,
        };
        var marks = t.Marks; // by index: foreach on the interface would allocate its enumerator
        for (int i = 0; i < marks.Count; i++)
        {
            var m = marks[i];
            span.Events.Add(new ConnectionSpanEvent(EventName(m), m.AtNs, m.Reason == 0 ? null : Reason(reasons, m.Reason, names), m.Attempt));
        }
        span.EventsLeftOut = t.MarksLeftOut;
        AppRequestLinks.CopyTo(t, span);
    }

    /// <summary>syn-aa's time; without that row, the kernel's own waits place it (accept's Wait us
    /// reaches back to it, or the handshake from the first SYN).</summary>
    private static ulong EstablishedNs(ConnectionTimeline t) =>
        t.EstablishedNs != 0 ? t.EstablishedNs
        : t.HasQueueWait && t.AcceptNs >= t.QueueWaitNs && t.QueueWaitNs > 0 ? t.AcceptNs - t.QueueWaitNs
        : t.HasHandshake && t.FirstSynNs != 0 ? t.FirstSynNs + t.HandshakeNs
        : 0;

    /// <summary>A retried SYN is the client's retry; every other mark keeps its action's name.</summary>
    public static string EventName(in TimelineMark m) => m.Kind switch
    {
        EventKind.Syn => "syn-retry",
        var k => KindNames.TryGetValue(k, out var name) ? name : EventKinds.Name(k),
    };

    /// <summary>Each kind's name, made once (EventKinds.Name makes a string per call).</summary>
    private static readonly Dictionary<EventKind, string> KindNames = EventKinds.All.Distinct().ToDictionary(k => k, EventKinds.Name);

    private static string Reason(DropReasons reasons, uint reason, Dictionary<uint, string>? names)
    {
        if (names is null) return reasons.Name(reason);
        if (names.TryGetValue(reason, out var name)) return name;
        if (names.Count >= 4096) names.Clear(); // reason codes are a few hundred at most: a bound all the same
        return names[reason] = reasons.Name(reason);
    }
}
