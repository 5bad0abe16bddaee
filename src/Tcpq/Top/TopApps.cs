using System.Globalization;
using Tcpq.Aggregates;
using Tcpq.Connections;
using Tcpq.Connections.Diagnosis;

namespace Tcpq.Top;

/// <summary>A line under top's table, with the severity it is drawn in (as a listener's row is,
/// by its finding's).</summary>
public sealed record AppLine(string Text, Severity Severity);

/// <summary>top's lines for the .NET processes joined (--dotnet): one per process under the
/// table, the thread pool now and what happened in the interval (threads injected because work
/// starved, GC pauses, Kestrel's refusals).</summary>
public static class TopApps
{
    public static IReadOnlyList<AppLine> Lines(IReadOnlyList<AppReading>? previous, IReadOnlyList<AppReading>? current)
    {
        if (current is not { Count: > 0 }) return [];
        var lines = new List<AppLine>(current.Count);
        foreach (var a in current)
        {
            var before = previous?.FirstOrDefault(p => p.Pid == a.Pid);
            long Delta(Func<AppReading, long> f) => Math.Max(0, f(a) - (before is null ? 0 : f(before)));
            long starved = Delta(r => r.StarvationInjections), blocked = Delta(r => r.BlockingInjections);
            long pauses = Delta(r => r.GcPauses), refused = Delta(r => r.KestrelRejected);
            double paused = Math.Max(0, a.GcPauseSeconds - (before?.GcPauseSeconds ?? 0));
            string pool = a.PoolSamples == 0 ? "pool not sampled yet" : $"pool {a.Threads} thread{Rulebook.S(a.Threads)}, {a.QueuedWorkItems} work item{Rulebook.S(a.QueuedWorkItems)} queued";
            string injected = starved + blocked == 0 ? "no threads injected" : $"+{starved + blocked} thread{Rulebook.S(starved + blocked)} injected ({starved} starvation, {blocked} blocking)";
            string gc = pauses == 0 ? "no GC pause" : $"{pauses} GC pause{Rulebook.S(pauses)}, {(paused * 1000).ToString("0.#", CultureInfo.InvariantCulture)} ms";
            // the pool had to add threads in the interval: work waited for one (a warning, drawn as a listener's)
            var severity = starved + blocked > 0 ? Severity.Warning : Severity.Info;
            lines.Add(new AppLine($"app {a.Comm}[{a.Pid}] · {pool} · {injected} · {gc} · {refused} refused by Kestrel (in the interval)", severity));
        }
        return lines;
    }
}
