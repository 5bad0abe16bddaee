using Tcpq.Connections;

namespace Tcpq.Spans;

/// <summary>The application's request spans joined to a connection's timeline (--dotnet's request
/// links, issue 25), as the links of the connection's span. The tracker → span adapter calls it.</summary>
public static class AppRequestLinks
{
    /// <summary>Adds each request span that came on <paramref name="timeline"/> to
    /// <paramref name="span"/>'s <see cref="ConnectionSpan.AppRequests"/>, oldest first. The ids'
    /// hex strings are those the EventPipe payload brought: nothing is formatted here.</summary>
    public static void CopyTo(ConnectionTimeline timeline, ConnectionSpan span)
    {
        if (timeline.RequestSpans is not { Count: > 0 } spans) return;
        foreach (var s in spans) span.AppRequests.Add(new AppRequestLink(s.TraceId.ToHexString(), s.SpanId.ToHexString()));
    }
}
