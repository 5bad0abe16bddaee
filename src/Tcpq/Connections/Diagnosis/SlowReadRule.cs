using Tcpq.Connections;

namespace Tcpq.Connections.Diagnosis;

/// <summary>The application accepts promptly but reads late: after accept() the first request sat
/// unread in the socket. An accept loop that hands connections to a busy worker pool.</summary>
public sealed class SlowReadRule : IDiagnosisRule
{
    public const long SlowP90Us = 100_000;
    public const long CriticalP90Us = 1_000_000;

    public string Name => "slow-read";

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        var a = p.App;
        if (a.Unread.Count == 0 || a.Unread.P90 < SlowP90Us) return null;
        // accepting late is slow-accept's finding; this one is about what happens after accept()
        if (p.QueueWait.Count > 0 && p.QueueWait.P90 >= SlowAcceptRule.SlowP90Us) return null;
        var severity = a.Unread.P90 >= CriticalP90Us ? Severity.Critical : Severity.Warning;
        string queue = p.QueueWait.Count > 0 ? $" (accept-queue wait p90 {Rulebook.Us(p.QueueWait.P90)})" : "";
        return new Finding(Name, severity, p.Label,
            $"the application accepts promptly on {p.Label}{queue} but reads late: after accept() the first request waited unread in the socket " +
            $"p50 {Rulebook.Us(a.Unread.P50)}, p90 {Rulebook.Us(a.Unread.P90)}, up to {Rulebook.Us(a.Unread.Max)} " +
            $"(accept → first read p90 {Rulebook.Us(a.AcceptToRead.P90)}, {a.Unread.Count} connection{Rulebook.S(a.Unread.Count)}). " +
            "This is an accept loop that hands connections to a worker pool with no free worker: the kernel's queues are empty, the wait is in the application. " +
            "Size the pool to the load (or bound the accept loop by it, so that the backlog pushes back), read in the event loop and hand off whole requests, and watch the pool's queue.");
    }
}
