namespace Tcpq.Connections;

/// <summary>The application behind a listening port, as its .NET runtime reported it: the stages
/// of the connections joined to it, its thread pool and its GC pauses, against the port's
/// accept-queue waits.</summary>
public sealed record AppSummary(
    uint Pid, string Comm,
    long Joined, long Requests, long Rejected, long Unjoined,
    LatencySummary AcceptToApp, LatencySummary FirstRequest,
    long PoolSamples, long BacklogSamples, uint FirstQueue, uint PeakQueue, uint LastQueue, uint MinThreads, uint MaxThreads,
    long StarvationAdjustments, long BlockingAdjustments,
    long GcPauses, long GcPauseTotalUs, long GcPauseMaxUs,
    long LongWaits, long LongWaitsInGc, long LongestGcWithinWaitUs)
{
    public string Name => $"{Comm}[{Pid}]";
    public long Injections => StarvationAdjustments + BlockingAdjustments;

    /// <summary>For the port's listener: the process that accepted most of its connections and
    /// reported app rows; null when no such process was joined.</summary>
    public static AppSummary? Of(ListenerStats l, IReadOnlyDictionary<uint, AppProcessStats> apps)
    {
        var app = l.AcceptPids.OrderByDescending(p => p.Value).Select(p => apps.GetValueOrDefault(p.Key)).FirstOrDefault(a => a != null);
        if (app is null && l.AppJoined == 0) return null;
        long waitsInGc = 0;
        ulong longestInGc = 0;
        if (app != null)
            foreach (var (start, end, pid) in l.LongWaits)
            {
                if (pid != app.Pid) continue;
                ulong paused = app.PausedWithin(start, end);
                if (paused == 0) continue;
                waitsInGc++;
                longestInGc = Math.Max(longestInGc, paused);
            }
        var own = OfProcess(app);
        return own with
        {
            Joined = l.AppJoined, Requests = l.AppRequests, Rejected = l.AppRejected + own.Rejected,
            AcceptToApp = l.AcceptToApp.Summary(), FirstRequest = l.FirstRequest.Summary(),
            LongWaits = Math.Min(l.LongWaitCount, l.LongWaits.Count), LongWaitsInGc = waitsInGc, LongestGcWithinWaitUs = (long)(longestInGc / 1000),
        };
    }

    /// <summary>The process's own figures (pool, injections, pauses, refusals it alone knows), with
    /// nothing of a listener's connections: top's aggregates join none; <see cref="Of"/> adds them.</summary>
    public static AppSummary OfProcess(AppProcessStats? app)
    {
        var none = new LatencyHistogram().Summary();
        return new AppSummary(
            app?.Pid ?? 0, app?.Comm ?? "?",
            0, 0, app?.Rejected ?? 0, app?.Unjoined ?? 0,
            none, none,
            app?.PoolSamples ?? 0, app?.BacklogSamples ?? 0, app?.FirstQueue ?? 0, app?.PeakQueue ?? 0, app?.LastQueue ?? 0,
            app is { MinThreads: not uint.MaxValue } ? app.MinThreads : 0, app?.MaxThreads ?? 0,
            app?.StarvationAdjustments ?? 0, app?.BlockingAdjustments ?? 0,
            app?.GcPauses ?? 0, (long)((app?.GcPauseTotalNs ?? 0) / 1000), (long)((app?.GcPauseMaxNs ?? 0) / 1000),
            0, 0, 0);
    }
}
