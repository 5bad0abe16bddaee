using Tcpq.Connections;

namespace Tcpq.Connections.Diagnosis;

/// <summary>Clients reset or closed connections still waiting for accept(): they gave up. Unless
/// nothing made them wait: closed within <see cref="ProbeWaitUs"/> while the queue never came near
/// full and nothing was dropped, they are clients that connect and close at once (load-balancer
/// and Kubernetes tcpSocket health checks, port probes), and that is said as information only.</summary>
public sealed class ClientsGaveUpRule : IDiagnosisRule
{
    public string Name => "clients-gave-up";

    /// <summary>Below any client's connect timeout (those start around 1 s): a client that leaves
    /// sooner, from a queue that was never full, did not time out.</summary>
    public const long ProbeWaitUs = 100_000;

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        if (p.Aborted == 0) return null;
        string how = string.Join(", ", p.Aborts.Select(a => $"{a.Value} {a.Key}"));
        bool queueRoomy = p.QMax > 0 && p.PeakQ * 2 <= p.QMax && p.AllDrops == 0;
        // the waits must be known: counting mode measures them only in its sampling windows
        bool waitsKnown = p.Total.Count > 0 || p.QueueWait.Count > 0;
        if (queueRoomy && waitsKnown && p.LongestWaitUs < ProbeWaitUs)
            return new Finding(Name, Severity.Info, p.Label,
                $"{p.Aborted} of {p.Connections} clients of {p.Label} closed before accept() ({how}), none after more than {Rulebook.Us(p.LongestWaitUs)}, " +
                $"with the accept queue never past {p.PeakQ} of {p.QMax}: clients that connect and close at once (health checks, port probes), not clients that timed out.");
        var severity = p.Aborted * 10 >= Math.Max(p.Connections, 1) ? Severity.Critical : Severity.Warning;
        return new Finding(Name, severity, p.Label,
            $"{p.Aborted} of {p.Connections} clients of {p.Label} gave up before accept() ({how}), after waiting up to {Rulebook.Us(p.LongestWaitUs)}. " +
            "They waited longer than their own timeout: accept faster or raise the backlog so they are not held in retries; check the clients' connect timeouts.");
    }
}
