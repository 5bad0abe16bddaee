using Tcpq.Connections;

namespace Tcpq.Connections.Diagnosis;

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
            $"{p.Aborted} of {p.Connections} clients of {p.Label} gave up before accept() ({how}), after waiting up to {Rulebook.Us(p.LongestWaitUs)}. " +
            "They waited longer than their own timeout: accept faster or raise the backlog so they are not held in retries; check the clients' connect timeouts.");
    }
}
