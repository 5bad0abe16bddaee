namespace Tcpq.Connections.Diagnosis;

/// <summary>Connections waited in the accept queue across the accepting .NET process's GC pauses:
/// the runtime suspends every managed thread, the accept loop too. Needs the app side (--dotnet).</summary>
public sealed class GcPauseRule : IDiagnosisRule
{
    /// <summary>At least this many long waits (≥ <see cref="ListenerStats.LongWaitNs"/>) crossed a
    /// pause, a fifth of them or more, and the longest pause was at least <see cref="MinPauseUs"/>.</summary>
    public const long MinWaits = 3;
    public const long MinPauseUs = 10_000;

    public string Name => "gc-pauses";

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        if (p.Dotnet is not { } a || a.GcPauses == 0) return null;
        if (a.LongWaitsInGc < MinWaits || a.LongWaitsInGc * 5 < a.LongWaits || a.GcPauseMaxUs < MinPauseUs) return null;
        var severity = a.GcPauseMaxUs >= 100_000 ? Severity.Critical : Severity.Warning;
        return new Finding(Name, severity, p.Label,
            $"{a.LongWaitsInGc} of {a.LongWaits} connections that waited {Rulebook.Us((long)(ListenerStats.LongWaitNs / 1000))} or more in the accept queue of {p.Label} " +
            $"waited across a GC pause of {a.Name} (up to {Rulebook.Us(a.LongestGcWithinWaitUs)} of one wait; {Rulebook.Count(a.GcPauses, "pause")}, " +
            $"the longest {Rulebook.Us(a.GcPauseMaxUs)}, {Rulebook.Us(a.GcPauseTotalUs)} in all). The runtime stops every thread for a pause, the accept loop too. " +
            "Allocate less on the request path (objects of 85 KB or more, and GC.Collect() calls, make the long ones) and keep Server GC with concurrent collection, ASP.NET Core's defaults.");
    }
}
