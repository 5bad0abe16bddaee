using Tcpq.Bpf;
using Tcpq.Aggregates;
using Tcpq.Events;

namespace Tcpq.Serve;

/// <summary>Adds the BPF programs' run time to a source's cost where the source leaves it out
/// (the kernel-side aggregates do): read from this process's program fds while the kernel measures.</summary>
public sealed class ProgramCostSource(IAggregateSource inner) : IAggregateSource
{
    public DropReasons Reasons => inner.Reasons;

    public AggregateSnapshot Read()
    {
        var s = inner.Read();
        if (s.Cost.ProgramRunTime is not null || BpfProgramStats.OfThisProcess() is not { } run) return s;
        return s with { Cost = s.Cost with { ProgramRunTime = run.RunTime, ProgramRuns = run.Runs } };
    }

    public void Dispose() => inner.Dispose();
}
