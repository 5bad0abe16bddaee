using Tcpq.Connections;

namespace Tcpq.Connections.Diagnosis;

/// <summary>The application reads promptly but answers late: from its first read to its first
/// write the time is its own (its handler, a lock, a backend it calls).</summary>
public sealed class SlowResponseRule : IDiagnosisRule
{
    public const long SlowP90Us = 100_000;
    public const long CriticalP90Us = 1_000_000;

    public string Name => "slow-response";

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        var a = p.App;
        if (a.ReadToWrite.Count == 0 || a.ReadToWrite.P90 < SlowP90Us) return null;
        // reading late is slow-read's finding
        if (a.Unread.Count > 0 && a.Unread.P90 >= SlowReadRule.SlowP90Us) return null;
        var severity = a.ReadToWrite.P90 >= CriticalP90Us ? Severity.Critical : Severity.Warning;
        string prompt = a.Unread.Count > 0 ? $" (the first request waited unread p90 {Rulebook.Us(a.Unread.P90)})" : "";
        return new Finding(Name, severity, p.Label,
            $"the application on {p.Label} reads promptly{prompt} but answers late: first read → first write " +
            $"p50 {Rulebook.Us(a.ReadToWrite.P50)}, p90 {Rulebook.Us(a.ReadToWrite.P90)}, up to {Rulebook.Us(a.ReadToWrite.Max)} ({a.ReadToWrite.Count} connection{Rulebook.S(a.ReadToWrite.Count)}). " +
            "The time is in the application's handling of the request — its own work, a lock, a backend or database it calls — not in the kernel's queues: " +
            "profile the handler (or trace the backend calls) for these requests. A protocol where the client sends more before the server answers shows here too.");
    }
}
