using Tcpq.Events;

namespace Tcpq.Output;

/// <summary>What a row needs besides the event: wall time and reason names.</summary>
public sealed record EventContext(WallClock Clock, DropReasons Reasons);
