using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Spans;

/// <summary>
/// One connection's path, as a trace wants it: the seam between whatever saw the connection
/// (trace's <see cref="ConnectionTracker"/>, counting mode's kernel records in serve) and the span
/// exporter. Times are the kernel's monotonic ns (bpf_ktime_get_ns); 0 is "not seen". The
/// exporter turns them into wall time with <see cref="WallClock"/>.
/// </summary>
/// <remarks>
/// A source fills one, hands it to an <see cref="IConnectionSpanSink"/>, and may reuse it after
/// the call returns: a sink copies what it keeps.
/// </remarks>
public sealed class ConnectionSpan
{
    /// <summary>The trace this connection becomes. Chosen by the source (ActivityTraceId.CreateRandom)
    /// when something else must name it before the exporter runs, as a Prometheus exemplar does;
    /// default: the exporter chooses.</summary>
    public System.Diagnostics.ActivityTraceId TraceId;
    public ConnectionKey Key;
    /// <summary>The first SYN (the root span's start).</summary>
    public ulong FirstSynNs;
    /// <summary>The handshake completed (syn-aa): the end of the handshake span, the start of
    /// the accept-queue wait.</summary>
    public ulong EstablishedNs;
    /// <summary>accept() returned it: the end of the accept-queue wait.</summary>
    public ulong AcceptNs;
    public ulong FirstReadNs;
    public ulong FirstWriteNs;
    /// <summary>The connection ended (closed, aborted) or the last thing seen of it.</summary>
    public ulong EndNs;
    /// <summary>The process that accepted it (0: not known).</summary>
    public uint Pid;
    public string? Comm;
    /// <summary>Aborted before the application had it: the span's status is error.</summary>
    public bool Aborted;
    /// <summary>Why (a DropReasons text), when aborted.</summary>
    public string? AbortReason;
    /// <summary>SYNs the client sent (1: no retry; 0: not known).</summary>
    public uint Attempts;
    /// <summary>How the source stopped following it, when not simply finished ("expired": nothing
    /// heard for the idle timeout, "evicted": the table was full, "still-open": tracing ended).</summary>
    public string? Unfinished;
    /// <summary>Events left out past the source's bound (a flood of refused ACKs).</summary>
    public uint EventsLeftOut;
    /// <summary>Drops, client retries, SYN cookies, resets: the root span's events.</summary>
    public readonly List<ConnectionSpanEvent> Events = [];
    /// <summary>Where the listener runs (container, pod), when known.</summary>
    public Workload? Workload;
    /// <summary>The application's own request spans that came on this connection (links).</summary>
    public readonly List<AppRequestLink> AppRequests = [];

    public void Reset()
    {
        TraceId = default;
        Key = default;
        FirstSynNs = EstablishedNs = AcceptNs = FirstReadNs = FirstWriteNs = EndNs = 0;
        Pid = 0;
        Comm = null;
        Aborted = false;
        AbortReason = null;
        Attempts = EventsLeftOut = 0;
        Unfinished = null;
        Events.Clear();
        Workload = null;
        AppRequests.Clear();
    }

    /// <summary>Copies every field into <paramref name="to"/>, reusing its lists (no allocation once
    /// they have grown to fit): how a sink keeps a span its source will reuse.</summary>
    public void CopyTo(ConnectionSpan to)
    {
        to.TraceId = TraceId;
        to.Key = Key;
        to.FirstSynNs = FirstSynNs;
        to.EstablishedNs = EstablishedNs;
        to.AcceptNs = AcceptNs;
        to.FirstReadNs = FirstReadNs;
        to.FirstWriteNs = FirstWriteNs;
        to.EndNs = EndNs;
        to.Pid = Pid;
        to.Comm = Comm;
        to.Aborted = Aborted;
        to.AbortReason = AbortReason;
        to.Attempts = Attempts;
        to.Unfinished = Unfinished;
        to.EventsLeftOut = EventsLeftOut;
        to.Events.Clear();
        to.Events.AddRange(Events);
        to.Workload = Workload;
        to.AppRequests.Clear();
        to.AppRequests.AddRange(AppRequests);
    }
}

/// <summary>Something that happened to a connection at one instant: a SYN dropped ("syn-drop"),
/// a client's retry ("syn-retry"), a SYN cookie ("syn-cookie"), a SYN-ACK retransmitted
/// ("synack-retrans"), a refused ACK ("ack-drop"), a reset or other abort ("abort", its reason
/// says which). Reason is a DropReasons text or null.</summary>
public readonly record struct ConnectionSpanEvent(string Name, ulong AtNs, string? Reason = null, uint Attempt = 0);

/// <summary>A request span of the application (W3C trace id and span id, hex), that came on the
/// connection: the connection span links it.</summary>
public readonly record struct AppRequestLink(string TraceId, string SpanId);

/// <summary>Where finished connections go to become traces.</summary>
public interface IConnectionSpanSink
{
    /// <summary>Called once per connection, when nothing more will be learnt of it.</summary>
    void Write(ConnectionSpan span);

    /// <summary>Asked first: true when the sink would leave the next connection out (and has
    /// counted it so), so that no span is made for it. A connection whose timeline has gone cold
    /// costs cache misses to read: under a saturating load most of them find the export's slots
    /// all taken.</summary>
    bool LeavesOut() => false;
}
