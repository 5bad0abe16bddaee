using Tcpq.Connections;

namespace Tcpq.Connections.Diagnosis;

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
            ? $"{p.AckDrops} final ACK{Rulebook.S(p.AckDrops)} {(p.AckDrops == 1 ? "was" : "were")} dropped at the full accept queue, which makes the server resend: fix the queue first (see backlog-too-small)"
            : "no final ACK was dropped here, so they were lost or late on the way: check the path for packet loss (ip -s link, nstat TcpRetransSegs on the client) or clients that never finish the handshake";
        string retries = c.SynAckRetries is int r ? $" net.ipv4.tcp_synack_retries = {r}{BacklogTooSmallRule.Here(c)} bounds how long the server keeps trying." : "";
        return new Finding(Name, severity, p.Label,
            $"{p.SynAckRetrans} SYN-ACK{Rulebook.S(p.SynAckRetrans)} {(p.SynAckRetrans == 1 ? "was" : "were")} retransmitted on {p.Label} ({p.Connections} connections): {cause}.{retries}");
    }
}
