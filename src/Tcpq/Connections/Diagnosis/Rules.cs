namespace Tcpq.Connections;

// One class per rule; thresholds are constants next to the rule that uses them and are
// documented in docs/diagnosis.md.

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
            ? $"{p.AcceptQueueDrops - p.AckDrops} SYN{Diagnosis.S(p.AcceptQueueDrops - p.AckDrops)} and {p.AckDrops} final ACK{Diagnosis.S(p.AckDrops)} were dropped"
            : $"{p.AcceptQueueDrops} SYN{Diagnosis.S(p.AcceptQueueDrops)} {(p.AcceptQueueDrops == 1 ? "was" : "were")} dropped";
        return new Finding(Name, severity, p.Label,
            $"the accept queue of {p.Label} (Qmax {p.QMax}) was full {Diagnosis.Percent(p.QueueFullShare)} of the time and {what}; " +
            $"clients waited up to {Diagnosis.Us(waited)}. Raise the listen() backlog ({cap}) or accept faster: " +
            $"{Diagnosis.Rate(p.AcceptRate)} accepts/s against {Diagnosis.Rate(p.ArrivalRate)} arrivals/s.");
    }

    internal static string Here(DiagnosisContext c) => c.SettingsFromThisMachine ? " here" : "";
}

/// <summary>Connections wait long in the accept queue, or are never taken off it: the
/// application calls accept() too slowly.</summary>
public sealed class SlowAcceptRule : IDiagnosisRule
{
    public const long SlowP90Us = 100_000;
    public const long CriticalP90Us = 1_000_000;

    public string Name => "slow-accept";

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        bool slow = p.QueueWait.Count > 0 && p.QueueWait.P90 >= SlowP90Us;
        bool stuck = p.EstablishedNotAccepted >= 5 && p.EstablishedNotAccepted * 10 >= p.Established;
        if (!slow && !stuck) return null;
        var severity = p.QueueWait.P90 >= CriticalP90Us || stuck ? Severity.Critical : Severity.Warning;
        string waits = p.QueueWait.Count > 0
            ? $"connections waited in the accept queue of {p.Label} p50 {Diagnosis.Us(p.QueueWait.P50)}, p90 {Diagnosis.Us(p.QueueWait.P90)}, up to {Diagnosis.Us(p.QueueWait.Max)} before accept()"
            : $"connections were established on {p.Label} but not accepted";
        string never = p.EstablishedNotAccepted > 0 ? $"; {p.EstablishedNotAccepted} established never got accepted while traced" : "";
        return new Finding(Name, severity, p.Label,
            $"{waits}{never}. The application accepts too slowly ({Diagnosis.Rate(p.AcceptRate)} accepts/s against {Diagnosis.Rate(p.ArrivalRate)} arrivals/s): " +
            "accept in a loop until EAGAIN, use more acceptor threads or processes (SO_REUSEPORT), and keep slow work off the accepting thread.");
    }
}

/// <summary>SYNs dropped because the SYN queue was full, or answered with SYN cookies: more
/// half-open connections than the SYN queue holds (a burst, slow clients, or a SYN flood).</summary>
public sealed class SynQueuePressureRule : IDiagnosisRule
{
    public string Name => "syn-queue-pressure";

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        if (p.SynQueueDrops == 0 && p.Cookies == 0) return null;
        var parts = new List<string>();
        if (p.SynQueueDrops > 0) parts.Add($"{p.SynQueueDrops} SYN{Diagnosis.S(p.SynQueueDrops)} dropped with syn-queue-full");
        if (p.Cookies > 0) parts.Add($"{p.Cookies} answered with SYN cookies");
        string setting = c.TcpMaxSynBacklog is int b ? $"net.ipv4.tcp_max_syn_backlog (now {b}{BacklogTooSmallRule.Here(c)})" : "net.ipv4.tcp_max_syn_backlog";
        return new Finding(Name, p.SynQueueDrops > 0 ? Severity.Critical : Severity.Warning, p.Label,
            $"the SYN queue of {p.Label} overflowed: {string.Join(" and ", parts)} (peak Q0 {p.PeakQ0}, Qmax {p.QMax}). " +
            $"Raise the listen() backlog and {setting}, which bound it together; if the SYNs come from few sources at a high rate it is a SYN flood: filter it upstream. " +
            "SYN cookies keep service up but lose TCP options (window scaling, SACK) on those connections.");
    }
}

/// <summary>Clients reset or closed connections still waiting for accept(): they gave up.</summary>
public sealed class ClientsGaveUpRule : IDiagnosisRule
{
    public string Name => "clients-gave-up";

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        if (p.Aborted == 0) return null;
        var severity = p.Aborted * 10 >= Math.Max(p.Connections, 1) ? Severity.Critical : Severity.Warning;
        string how = string.Join(", ", p.Aborts.Select(a => $"{a.Value} {a.Key}"));
        return new Finding(Name, severity, p.Label,
            $"{p.Aborted} of {p.Connections} clients of {p.Label} gave up before accept() ({how}), after waiting up to {Diagnosis.Us(p.LongestWaitUs)}. " +
            "They waited longer than their own timeout: accept faster or raise the backlog so they are not held in retries; check the clients' connect timeouts.");
    }
}

/// <summary>The server retransmitted SYN-ACKs: the client's final ACK was lost or late — a
/// lossy path, or final ACKs dropped at a full accept queue.</summary>
public sealed class SynAckRetransmitRule : IDiagnosisRule
{
    public string Name => "synack-retransmits";

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        if (p.SynAckRetrans == 0) return null;
        var severity = p.SynAckRetrans * 100 >= Math.Max(p.Connections, 1) ? Severity.Warning : Severity.Info;
        string cause = p.AckDrops > 0
            ? $"{p.AckDrops} final ACK{Diagnosis.S(p.AckDrops)} {(p.AckDrops == 1 ? "was" : "were")} dropped at the full accept queue, which makes the server resend: fix the queue first (see backlog-too-small)"
            : "no final ACK was dropped here, so they were lost or late on the way: check the path for packet loss (ip -s link, nstat TcpRetransSegs on the client) or clients that never finish the handshake";
        string retries = c.SynAckRetries is int r ? $" net.ipv4.tcp_synack_retries = {r}{BacklogTooSmallRule.Here(c)} bounds how long the server keeps trying." : "";
        return new Finding(Name, severity, p.Label,
            $"{p.SynAckRetrans} SYN-ACK{Diagnosis.S(p.SynAckRetrans)} {(p.SynAckRetrans == 1 ? "was" : "were")} retransmitted on {p.Label} ({p.Connections} connections): {cause}.{retries}");
    }
}

/// <summary>Clients retried SYNs that tcpq never saw dropped: the first ones were lost before
/// they reached the listener (network loss, a firewall, a full NIC queue).</summary>
public sealed class SynsLostUpstreamRule : IDiagnosisRule
{
    public string Name => "syns-lost-upstream";

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        long unexplained = p.Retries - p.DroppedSyns;
        if (p.Retries == 0 || unexplained <= 0) return null;
        return new Finding(Name, Severity.Warning, p.Label,
            $"clients of {p.Label} sent {p.Retries} SYN retr{(p.Retries == 1 ? "y" : "ies")} but tcpq saw only {p.DroppedSyns} SYN{Diagnosis.S(p.DroppedSyns)} dropped at the listener: " +
            $"{unexplained} {(unexplained == 1 ? "was" : "were")} lost before reaching it (or their SYN-ACK was lost). Each costs the client 1 s or more: check packet loss and firewalls on the path.");
    }
}
