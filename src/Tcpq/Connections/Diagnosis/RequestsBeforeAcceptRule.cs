using Tcpq.Connections;

namespace Tcpq.Connections.Diagnosis;

/// <summary>Requests arrived before accept(): their data waited in the socket while the connection
/// sat in the accept queue, so the clients' request latency includes the accept-queue wait.</summary>
public sealed class RequestsBeforeAcceptRule : IDiagnosisRule
{
    /// <summary>Requests that waited this long (p90) before accept() are a finding; a tenth of first reads at least.</summary>
    public const long WaitP90Us = 10_000;
    public const long CriticalP90Us = 1_000_000;

    public string Name => "requests-before-accept";

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        var a = p.App;
        var b = a.BeforeAccept;
        if (b.Count == 0 || b.P90 < WaitP90Us || b.Count * 10 < Math.Max(a.FirstReads, 1)) return null;
        var severity = b.P90 >= CriticalP90Us ? Severity.Critical : Severity.Warning;
        return new Finding(Name, severity, p.Label,
            $"{b.Count} of {a.FirstReads} first requests on {p.Label} arrived before accept() and waited for it p50 {Rulebook.Us(b.P50)}, p90 {Rulebook.Us(b.P90)}, up to {Rulebook.Us(b.Max)}: " +
            "their data was already in the socket while the connection sat in the accept queue, so the clients' request latency includes the accept-queue wait. " +
            "Accept faster (see slow-accept: accept until EAGAIN, more acceptors, SO_REUSEPORT). With TCP_DEFER_ACCEPT a connection only reaches the accept queue with its request, so all of that wait is a request's.");
    }
}
