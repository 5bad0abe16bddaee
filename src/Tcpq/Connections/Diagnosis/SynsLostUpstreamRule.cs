using Tcpq.Connections;

namespace Tcpq.Connections.Diagnosis;

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
            $"clients of {p.Label} sent {p.Retries} SYN retr{(p.Retries == 1 ? "y" : "ies")} but tcpq saw only {p.DroppedSyns} SYN{Rulebook.S(p.DroppedSyns)} dropped at the listener: " +
            $"{unexplained} {(unexplained == 1 ? "was" : "were")} lost before reaching it (or their SYN-ACK was lost). Each costs the client 1 s or more: check packet loss and firewalls on the path.");
    }
}
