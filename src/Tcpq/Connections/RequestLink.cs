using System.Diagnostics;

namespace Tcpq.Connections;

/// <summary>A request the application traced (its span's W3C trace id and span id) that came on
/// one connection: the process that served it, the connection's network namespace and 4-tuple,
/// and when it started on the kernel's clock. The connection's span links it.</summary>
public readonly record struct RequestLink(ConnectionKey Connection, uint Pid, ulong StartNs, ActivityTraceId TraceId, ActivitySpanId SpanId);

/// <summary>A request span joined to a connection's timeline: the ids, and when it started.</summary>
public readonly record struct AppRequestSpan(ActivityTraceId TraceId, ActivitySpanId SpanId, ulong StartNs);

/// <summary>Where the application's request spans go to be joined to their connections (the
/// tracker): a side channel beside <see cref="Events.IEventSink"/>, because a span's ids do not
/// fit the kernel's event layout.</summary>
public interface IRequestLinkSink
{
    void OnRequestLink(in RequestLink link);
}

/// <summary>What became of the request spans handed to the tracker: joined to a connection,
/// not (the connection ended before them, began before tracing, or another process accepted it),
/// or joined but past <see cref="ConnectionTimeline.MaxRequestSpans"/> on one connection.</summary>
public sealed class RequestLinkCounts
{
    public long Joined, Unjoined, PastLimit;
}
