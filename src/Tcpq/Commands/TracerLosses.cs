using Tcpq.Bpf;

namespace Tcpq.Commands;

/// <summary>What the kernel side of a trace could not give, said as it happens (at every tick of
/// the loop) and in all at the end: events lost in a full ring buffer, verdicts missed, verdicts
/// inferred without this CPU's counters, runs of the programs the kernel skipped.</summary>
internal sealed class TracerLosses(Tracer tracer, TextWriter said)
{
    private ulong _lost, _missed;
    private bool _uncountedSaid;

    public void Report()
    {
        ulong lost = tracer.Lost;
        if (lost > _lost)
            said.WriteLine($"tcpq: lost {lost - _lost} events (ring buffer full), {lost} in all");
        _lost = lost;

        // once: the kernel side could not find this CPU's TcpExt counters and infers drops
        if (!_uncountedSaid && tracer.UncountedVerdicts() > 0)
        {
            said.WriteLine("tcpq: this kernel's per-CPU TcpExt counters could not be found: syn-drop/ack-drop/syn-cookie rows are inferred from the listener's sk_drops and may differ from TcpExtListenDrops (see docs/accuracy.md)");
            _uncountedSaid = true;
        }

        ulong missed = tracer.MissedVerdicts();
        if (missed > _missed)
            said.WriteLine($"tcpq: the verdict on {missed - _missed} SYN(s) was missed (a syn-drop or syn-cookie row may be missing; see docs/accuracy.md), {missed} in all");
        _missed = missed;
    }

    /// <summary>The last line of a trace: how many events, how many lost; and the runs skipped.</summary>
    public void ReportEnd()
    {
        ulong lost = tracer.Lost;
        said.WriteLine(lost == 0
            ? $"tcpq: {tracer.Events} events, none lost"
            : $"tcpq: {tracer.Events} events, {lost} LOST (ring buffer full)");
        long skipped = BpfProgramStats.SkippedRunsOfThisProcess();
        if (skipped > 0)
            said.WriteLine($"tcpq: the kernel skipped {skipped} run{(skipped == 1 ? "" : "s")} of tcpq's programs (the program was already running on that CPU): up to as many rows are missing");
    }
}
