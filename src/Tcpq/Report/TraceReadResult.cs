using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Report;

/// <summary>What was read: the format, the rows, the reason names met, and the first bad line
/// when reading stopped early (only with lenient reading; otherwise that is an exception).</summary>
public sealed record TraceReadResult(EventFormat Format, long Rows, DropReasons Reasons, string? Error);
