namespace Tcpq.Events;

/// <summary>
/// The one loop every long-running command runs, after libbpf-tools' poll loop. Work with a period
/// of its own (a screen, a rescan) runs when due. At every tick the loop pumps each
/// <see cref="IEventSource"/> into its sink and runs the tick's work. In between it waits: in the
/// source the kernel wakes (the ring buffer), so a burst is read as it comes, or asleep. Ctrl-C,
/// SIGTERM and --duration (the stop token) end a sleep at once, and a wait in the ring buffer
/// within a tick. One thread, no thread per concern.
/// </summary>
/// <param name="tick">How often the sources are pumped: how late a row may reach its reader, or
/// how often a sampler samples. Zero pumps without pause (a saved trace, read to its end).</param>
public sealed class PollLoop(TimeSpan tick, CancellationToken stop, ILoopClock? clock = null)
{
    /// <summary>libbpf-tools' choice: responsive to a person, next to nothing for the machine.</summary>
    public static readonly TimeSpan DefaultTick = TimeSpan.FromMilliseconds(100);

    private sealed class Periodic(long periodNs, Action work)
    {
        public readonly long PeriodNs = periodNs;
        public readonly Action Work = work;
        public long NextNs;
    }

    private readonly ILoopClock _clock = clock ?? SystemLoopClock.Instance;
    private readonly List<IEventSource> _sources = [];
    private readonly List<Action> _eachTick = [];
    private readonly List<Periodic> _periodic = [];
    private readonly List<Action> _afterEvents = [];
    private bool _stopped;

    /// <summary>Stopped by the token or by <see cref="Stop"/>.</summary>
    public bool Stopping => _stopped || stop.IsCancellationRequested;

    /// <summary>Pumped at every tick; the first source that <see cref="IEventSource.Waits"/> is
    /// also where the loop waits between ticks.</summary>
    public PollLoop Pump(IEventSource source)
    {
        _sources.Add(source);
        return this;
    }

    /// <summary>Runs at every tick, after the sources were pumped (a loss report, the keys), and
    /// after the periodic work due at the same moment.</summary>
    public PollLoop EveryTick(Action work)
    {
        _eachTick.Add(work);
        return this;
    }

    /// <summary>Runs once a <paramref name="period"/>, the first time one period after the start;
    /// when late (a slow draw), the next time is at least a tick away: no burst to catch up.</summary>
    public PollLoop Every(TimeSpan period, Action work)
    {
        _periodic.Add(new Periodic(Ns(period), work));
        return this;
    }

    /// <summary>Runs after a pump that handed on events (rows written are flushed to their reader).</summary>
    public PollLoop AfterEvents(Action work)
    {
        _afterEvents.Add(work);
        return this;
    }

    /// <summary>Ends <see cref="Run"/> after the work now running ('q' in top, the last screen).</summary>
    public void Stop() => _stopped = true;

    /// <summary>Until stopped, or until every source has ended (all of them finite).</summary>
    public void Run()
    {
        long tickNs = Ns(tick);
        long start = _clock.MonotonicNs;
        long nextTick = start + tickNs;
        foreach (var p in _periodic) p.NextNs = start + p.PeriodNs;
        var waiter = _sources.FirstOrDefault(s => s.Waits);
        int pumped = 0;
        while (!Stopping)
        {
            // work with a period first: a screen due now is read at the moment it is due
            long now = _clock.MonotonicNs;
            foreach (var p in _periodic)
            {
                if (now < p.NextNs || Stopping) continue;
                p.Work();
                p.NextNs = Math.Max(p.NextNs + p.PeriodNs, now + tickNs);
            }
            now = _clock.MonotonicNs;
            if (now >= nextTick && !Stopping)
            {
                foreach (var s in _sources) pumped += s.Pump(TimeSpan.Zero);
                nextTick = nextTick + tickNs > now ? nextTick + tickNs : now + tickNs; // late: no burst to catch up
                foreach (var work in _eachTick) work();
            }
            if (pumped > 0)
            {
                foreach (var work in _afterEvents) work();
                pumped = 0;
            }
            if (Stopping || (_sources.Count > 0 && _sources.TrueForAll(s => s.Ended))) return;

            long deadline = nextTick;
            foreach (var p in _periodic) deadline = Math.Min(deadline, p.NextNs);
            long waitNs = deadline - _clock.MonotonicNs;
            if (waitNs <= 0) continue;
            var wait = TimeSpan.FromTicks((waitNs + 99) / 100); // rounded up: never a remainder too short to wait for
            if (waiter is not null) pumped += waiter.Pump(wait);
            else _clock.Sleep(wait, stop);
        }
    }

    private static long Ns(TimeSpan t) => t.Ticks * 100;
}
