using Tcpq.Connections;

namespace Tcpq.Connections.Diagnosis;

/// <summary>SYNs or final ACKs dropped because the accept queue was full: the listen() backlog
/// is too small for the bursts the application sees.</summary>
public sealed class BacklogTooSmallRule : IDiagnosisRule
{
    public string Name => "backlog-too-small";

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        if (p.AcceptQueueDrops == 0) return null;
        long waited = p.LongestWaitUs;
        var severity = waited >= 1_000_000 || p.AcceptQueueDrops * 100 >= Math.Max(p.Syns, 1) ? Severity.Critical : Severity.Warning;
        string cap = c.Somaxconn is int max
            ? p.QMax >= max
                ? $"it is already at net.core.somaxconn = {max}{Here(c)}: raise both"
                : $"the kernel caps it at net.core.somaxconn = {max}{Here(c)}"
            : "the kernel caps it at net.core.somaxconn";
        string what = p.AckDrops > 0
            ? $"{p.AcceptQueueDrops - p.AckDrops} SYN{Rulebook.S(p.AcceptQueueDrops - p.AckDrops)} and {p.AckDrops} final ACK{Rulebook.S(p.AckDrops)} were dropped"
            : $"{p.AcceptQueueDrops} SYN{Rulebook.S(p.AcceptQueueDrops)} {(p.AcceptQueueDrops == 1 ? "was" : "were")} dropped";
        return new Finding(Name, severity, p.Label,
            $"the accept queue of {p.Label} (Qmax {p.QMax}) was full {Rulebook.Percent(p.QueueFullShare)} of the time and {what}; " +
            $"clients waited up to {Rulebook.Us(waited)}. Raise the listen() backlog ({cap}) or accept faster: " +
            $"{Rulebook.Rate(p.AcceptRate)} accepts/s against {Rulebook.Rate(p.ArrivalRate)} arrivals/s.");
    }

    internal static string Here(DiagnosisContext c) => c.SettingsFromThisMachine ? " here" : "";
}
