using Tcpq.Connections;

namespace Tcpq.Connections.Diagnosis;

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
            ? $"connections waited in the accept queue of {p.Label} p50 {Rulebook.Us(p.QueueWait.P50)}, p90 {Rulebook.Us(p.QueueWait.P90)}, up to {Rulebook.Us(p.QueueWait.Max)} before accept()"
            : $"connections were established on {p.Label} but not accepted";
        string never = p.EstablishedNotAccepted > 0 ? $"; {p.EstablishedNotAccepted} established never got accepted while traced" : "";
        return new Finding(Name, severity, p.Label,
            $"{waits}{never}. The application accepts too slowly ({Rulebook.Rate(p.AcceptRate)} accepts/s against {Rulebook.Rate(p.ArrivalRate)} arrivals/s): " +
            "accept in a loop until EAGAIN, use more acceptor threads or processes (SO_REUSEPORT), and keep slow work off the accepting thread.");
    }
}
