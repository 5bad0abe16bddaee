using Tcpq.Connections;

namespace Tcpq.Connections.Diagnosis;

/// <summary>SYNs dropped because the SYN queue was full, or answered with SYN cookies: more
/// half-open connections than the SYN queue holds (a burst, slow clients, or a SYN flood).</summary>
public sealed class SynQueuePressureRule : IDiagnosisRule
{
    public string Name => "syn-queue-pressure";

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        if (p.SynQueueDrops == 0 && p.Cookies == 0) return null;
        var parts = new List<string>();
        if (p.SynQueueDrops > 0) parts.Add($"{p.SynQueueDrops} SYN{Rulebook.S(p.SynQueueDrops)} dropped with syn-queue-full");
        if (p.Cookies > 0) parts.Add($"{p.Cookies} answered with SYN cookies");
        string setting = c.TcpMaxSynBacklog is int b ? $"net.ipv4.tcp_max_syn_backlog (now {b}{BacklogTooSmallRule.Here(c)})" : "net.ipv4.tcp_max_syn_backlog";
        return new Finding(Name, p.SynQueueDrops > 0 ? Severity.Critical : Severity.Warning, p.Label,
            $"the SYN queue of {p.Label} overflowed: {string.Join(" and ", parts)} (peak Q0 {p.PeakQ0}, Qmax {p.QMax}). " +
            $"Raise the listen() backlog and {setting}, which bound it together; if the SYNs come from few sources at a high rate it is a SYN flood: filter it upstream. " +
            "SYN cookies keep service up but lose TCP options (window scaling, SACK) on those connections.");
    }
}
