using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>What one .NET process's runtime said while traced (app-pool, app-starve, app-gc rows,
/// and per-connection rows that found no connection to join).</summary>
public sealed class AppProcessStats(uint pid, Comm16 comm)
{
    /// <summary>GC pauses kept for matching against accept-queue waits; past it, only counted.</summary>
    public const int MaxPausesKept = 4096;
    /// <summary>A pool sample with this many queued work items or more is a backlog.</summary>
    public const uint QueueBacklog = 16;

    public uint Pid { get; } = pid;
    public string Comm { get; } = Comm16.Text(comm) ?? "?";
    public long PoolSamples, BacklogSamples, StarvationAdjustments, BlockingAdjustments, Unjoined, Requests;
    /// <summary>Kestrel's refusals known by the process only (the session did not ask for connection starts).</summary>
    public long Rejected;
    /// <summary>Rows about its connections came (app-conn, app-request, app-close, a refusal with a
    /// 4-tuple): its accepted connections are to wait for theirs.</summary>
    public bool ConnectionRows;
    public uint FirstQueue, LastQueue, PeakQueue, MinThreads = uint.MaxValue, MaxThreads, LastAdjustmentThreads, LastThreads;
    public long GcPauses;
    public ulong GcPauseTotalNs, GcPauseMaxNs;
    public readonly List<(ulong StartNs, ulong EndNs)> Pauses = [];

    internal void OnEvent(in TcpqEvent e)
    {
        switch (e.Kind)
        {
            case EventKind.AppPool:
                if (PoolSamples++ == 0) FirstQueue = e.Q;
                LastQueue = e.Q;
                LastThreads = e.Q0;
                PeakQueue = Math.Max(PeakQueue, e.Q);
                if (e.Q >= QueueBacklog) BacklogSamples++;
                MinThreads = Math.Min(MinThreads, e.Q0);
                MaxThreads = Math.Max(MaxThreads, e.Q0);
                break;
            case EventKind.AppStarve:
                if (e.Reason == DropReasons.CooperativeBlocking) BlockingAdjustments++; else StarvationAdjustments++;
                if (e.Has(EventFlags.Attempt)) { LastAdjustmentThreads = e.Attempt; MaxThreads = Math.Max(MaxThreads, e.Attempt); }
                break;
            case EventKind.AppReject:
                Rejected += e.Has(EventFlags.Attempt) ? e.Attempt : 1; // Kestrel's meter: the refusals of a second
                break;
            case EventKind.AppGc when e.Has(EventFlags.Wait):
                GcPauses++;
                GcPauseTotalNs += e.WaitNs;
                GcPauseMaxNs = Math.Max(GcPauseMaxNs, e.WaitNs);
                if (Pauses.Count < MaxPausesKept && e.TsNs >= e.WaitNs) Pauses.Add((e.TsNs - e.WaitNs, e.TsNs));
                break;
        }
    }

    /// <summary>Thread-injections the pool made because work waited: starvation, and blocking on tasks.</summary>
    public long Injections => StarvationAdjustments + BlockingAdjustments;

    /// <summary>The longest part of [start, end] that a GC pause covered, 0 when none did.</summary>
    public ulong PausedWithin(ulong start, ulong end)
    {
        ulong most = 0;
        foreach (var (s, e) in Pauses)
            if (s < end && e > start) most = Math.Max(most, Math.Min(e, end) - Math.Max(s, start));
        return most;
    }
}
