using Tcpq.Connections;

namespace Tcpq.Connections.Diagnosis;

/// <summary>Clients that finished the handshake from their side but whose final ACK (and the data
/// they sent right after it, as HTTP clients do) the kernel refused at a full accept queue, or
/// whose SYN-cookie ACK could not become a connection: each refused segment is one more
/// ListenDrops. Such a client believes it is connected; it waits on retransmissions, with backoff,
/// until the queue has room.</summary>
public sealed class FinalAckRefusedRule : IDiagnosisRule
{
    public string Name => "final-ack-refused";

    /// <summary>A client held this long by refused segments is a critical finding.</summary>
    private const long CriticalHoldUs = 1_000_000;

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        if (p.AckHeldClients == 0) return null;
        var severity = p.AckHold.Max >= CriticalHoldUs ? Severity.Critical : Severity.Warning;
        long cookies = p.Drops.GetValueOrDefault("cookie-ack-overflow");
        string cookieText = cookies > 0
            ? $" {cookies} of them were SYN-cookie ACKs (cookie-ack-overflow): the SYN queue was full too, so the kernel answered with cookies and then had no room for the connections they carried."
            : "";
        return new Finding(Name, severity, p.Label,
            $"{p.AckHeldClients} client{Rulebook.S(p.AckHeldClients)} of {p.Label} completed the handshake from their side, but the kernel refused " +
            $"{p.AckDrops} of their final ACK or data segment{Rulebook.S(p.AckDrops)} at the full accept queue (Qmax {p.QMax}); " +
            $"such a client believes it is connected and waits on retransmissions: they were held up to {Rulebook.Us(p.AckHold.Max)} (p50 {Rulebook.Us(p.AckHold.P50)})." +
            cookieText +
            " Make room in the accept queue (see backlog-too-small); net.ipv4.tcp_abort_on_overflow = 1 makes such clients fail at once with a reset instead of waiting.");
    }
}
