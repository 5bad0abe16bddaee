using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>How a timeline left the table.</summary>
public enum TimelineEnd
{
    Completed,   // accepted or aborted, and no late events came for it
    Expired,     // no event for the idle timeout: the client gave up unseen, or events were lost
    Evicted,     // the table was full (a flood of new connections): it went to make room
    StillOpen,   // tracing ended while it was still in progress
}
