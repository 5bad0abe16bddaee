namespace Tcpq.Connections.Diagnosis;

/// <summary>The .NET thread pool behind a port ran out of threads while connections waited in its
/// accept queue: Kestrel's accept loop continues on a pool thread, so blocked pool threads mean
/// late accept() calls. Needs the app side (--dotnet).</summary>
public sealed class ThreadPoolStarvationRule : IDiagnosisRule
{
    /// <summary>Accept-queue waits this long at p90 are the kernel's half of the evidence; the
    /// pool's own thread injections for starvation (or for blocking on tasks) are the other.</summary>
    public const long WaitP90Us = 10_000;
    public const long CriticalP90Us = 100_000;

    /// <summary>Without injections, a backlog of queued work (≥ <see cref="AppProcessStats.QueueBacklog"/>)
    /// in this many one-second samples: hill climbing kept the pool small while its work waited.</summary>
    public const long MinBacklogSamples = 2;

    public string Name => "thread-pool-starvation";

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        if (p.Dotnet is not { } a || a.Injections == 0 && a.BacklogSamples < MinBacklogSamples) return null;
        bool waits = p.QueueWait.Count > 0 && p.QueueWait.P90 >= WaitP90Us;
        bool lags = a.AcceptToApp.Count > 0 && a.AcceptToApp.P90 >= WaitP90Us;
        if (!waits && !lags) return null;
        var severity = p.QueueWait.P90 >= CriticalP90Us || a.AcceptToApp.P90 >= CriticalP90Us ? Severity.Critical : Severity.Warning;
        string added = a.Injections == 0
            ? $"its queue of work items held {AppProcessStats.QueueBacklog} or more for {a.BacklogSamples} s (peak {a.PeakQueue}, from {a.FirstQueue}) with only {a.MinThreads}→{a.MaxThreads} threads"
            : "";
        string why = a.StarvationAdjustments > 0 && a.BlockingAdjustments > 0
            ? $"{a.StarvationAdjustments} for starvation, {a.BlockingAdjustments} for threads blocked on tasks"
            : a.StarvationAdjustments > 0 ? $"{a.StarvationAdjustments} for starvation" : $"{a.BlockingAdjustments} for threads blocked on tasks";
        string queue = a.PoolSamples > 0
            ? $"; its queue of work items peaked at {a.PeakQueue} (from {a.FirstQueue}), threads {a.MinThreads}→{a.MaxThreads}"
            : $"; threads up to {a.MaxThreads}";
        string kernel = waits
            ? $"connections waited in the accept queue of {p.Label} p90 {Rulebook.Us(p.QueueWait.P90)}, up to {Rulebook.Us(p.QueueWait.Max)}"
            : $"connections on {p.Label} were accepted quickly";
        string app = a.AcceptToApp.Count > 0 ? $", and Kestrel started them p90 {Rulebook.Us(a.AcceptToApp.P90)} after accept()" : "";
        string evidence = a.Injections > 0 ? $"it added threads {Rulebook.Count(a.Injections, "time")} ({why}){queue}" : added;
        return new Finding(Name, severity, p.Label,
            $"the thread pool of {a.Name} was starved: {evidence}, while {kernel}{app}. " +
            "Kestrel's accept loop and every connection wait for a free pool thread. Find what blocks pool threads (Thread.Sleep, .Result or .Wait() on a task, " +
            "synchronous I/O) and make it async; as a stopgap raise the pool's minimum (ThreadPool.SetMinThreads, or System.Threading.ThreadPool.MinThreads in runtimeconfig.json).");
    }
}
