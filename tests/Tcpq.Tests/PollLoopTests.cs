using Tcpq.Events;

namespace Tcpq.Tests;

/// <summary>The one drive loop, on a clock that moves only when the loop waits: what runs at a
/// tick, what runs at its own period, where the loop waits, and when it ends.</summary>
public class PollLoopTests
{
    private const long Ms = 1_000_000;

    private sealed class TestClock : ILoopClock
    {
        public long MonotonicNs { get; set; } = 5_000 * Ms;
        public List<long> Slept { get; } = [];

        public void Sleep(TimeSpan duration, CancellationToken stop)
        {
            Slept.Add(duration.Ticks * 100);
            MonotonicNs += duration.Ticks * 100;
        }
    }

    /// <summary>A source that says when it was pumped; <see cref="Waiting"/> makes it one the
    /// kernel wakes: it then spends the wait it is given (on the test clock), and events may come
    /// in the middle of it.</summary>
    private sealed class RecordingSource(TestClock clock, List<string> log, string name) : IEventSource
    {
        public bool Waiting { get; init; }
        public int EventsPerPump { get; set; }
        /// <summary>A wait ends early with this many events (then 0 again), as a burst would wake the ring buffer.</summary>
        public int WakeWith { get; set; }
        public int? EndAfter { get; init; }
        public int Pumps { get; private set; }

        public int Pump(TimeSpan wait)
        {
            Pumps++;
            if (wait > TimeSpan.Zero)
            {
                if (WakeWith > 0)
                {
                    int n = WakeWith;
                    WakeWith = 0;
                    clock.MonotonicNs += wait.Ticks * 100 / 2;
                    log.Add($"{name} woke at {(clock.MonotonicNs - 5_000 * Ms) / Ms} ms with {n}");
                    return n;
                }
                clock.MonotonicNs += wait.Ticks * 100;
                return 0;
            }
            log.Add($"{name} at {(clock.MonotonicNs - 5_000 * Ms) / Ms} ms");
            return EventsPerPump;
        }

        public ulong Lost => 0;
        public bool Waits => Waiting;
        public bool Ended => EndAfter is int n && Pumps >= n;
        public void Dispose() { }
    }

    private static string At(TestClock clock) => $"{(clock.MonotonicNs - 5_000 * Ms) / Ms} ms";

    [Fact]
    public void Every_tick_pumps_the_sources_then_runs_the_ticks_work_and_periodic_work_runs_at_its_own_period_first()
    {
        var clock = new TestClock();
        var log = new List<string>();
        var loop = new PollLoop(TimeSpan.FromMilliseconds(100), CancellationToken.None, clock);
        var a = new RecordingSource(clock, log, "a");
        var b = new RecordingSource(clock, log, "b");
        loop.Pump(a).Pump(b)
            .EveryTick(() => log.Add($"tick at {At(clock)}"))
            .Every(TimeSpan.FromMilliseconds(250), () =>
            {
                log.Add($"period at {At(clock)}");
                if (clock.MonotonicNs - 5_000 * Ms >= 500 * Ms) loop.Stop();
            })
            .Run();

        Assert.Equal(
        [
            "a at 100 ms", "b at 100 ms", "tick at 100 ms",
            "a at 200 ms", "b at 200 ms", "tick at 200 ms",
            "period at 250 ms",
            "a at 300 ms", "b at 300 ms", "tick at 300 ms",
            "a at 400 ms", "b at 400 ms", "tick at 400 ms",
            "period at 500 ms", // due with the tick: first, and it stops the loop, so the tick's work is not done
        ], log);
        Assert.All(clock.Slept, ns => Assert.True(ns <= 100 * Ms)); // never past a tick or a period: asleep only between them
    }

    [Fact]
    public void Events_handed_on_are_flushed_after_the_pump_and_nothing_is_flushed_for_a_pump_that_brought_none()
    {
        var clock = new TestClock();
        var log = new List<string>();
        var loop = new PollLoop(TimeSpan.FromMilliseconds(50), CancellationToken.None, clock);
        var source = new RecordingSource(clock, log, "s");
        int ticks = 0;
        loop.Pump(source)
            .AfterEvents(() => log.Add($"flush at {At(clock)}"))
            .EveryTick(() =>
            {
                source.EventsPerPump = ++ticks == 2 ? 3 : 0; // the next pump brings events
                if (ticks == 4) loop.Stop();
            })
            .Run();
        Assert.Equal(["s at 50 ms", "s at 100 ms", "s at 150 ms", "flush at 150 ms", "s at 200 ms"], log);
    }

    [Fact]
    public void Between_ticks_the_loop_waits_in_the_source_the_kernel_wakes_and_a_burst_is_handed_on_at_once()
    {
        var clock = new TestClock();
        var log = new List<string>();
        var loop = new PollLoop(TimeSpan.FromMilliseconds(100), CancellationToken.None, clock);
        var ring = new RecordingSource(clock, log, "ring") { Waiting = true, WakeWith = 7 };
        var queue = new RecordingSource(clock, log, "queue");
        loop.Pump(ring).Pump(queue)
            .AfterEvents(() => log.Add($"flush at {At(clock)}"))
            .EveryTick(() => { if (clock.MonotonicNs - 5_000 * Ms >= 200 * Ms) loop.Stop(); })
            .Run();

        Assert.Empty(clock.Slept); // the waiting was done in the ring
        Assert.Equal(
        [
            "ring woke at 50 ms with 7", "flush at 50 ms",   // the burst: read and flushed before the tick
            "ring at 100 ms", "queue at 100 ms",
            "ring at 200 ms", "queue at 200 ms",
        ], log);
    }

    [Fact]
    public void A_finite_source_is_read_to_its_end_without_pause()
    {
        var clock = new TestClock();
        var log = new List<string>();
        var file = new RecordingSource(clock, log, "file") { EndAfter = 3, EventsPerPump = 4096 };
        new PollLoop(TimeSpan.Zero, CancellationToken.None, clock).Pump(file).Run();
        Assert.Equal(3, file.Pumps);
        Assert.Empty(clock.Slept);
        Assert.Equal(5_000 * Ms, clock.MonotonicNs);
    }

    [Fact]
    public void A_stop_already_asked_for_ends_the_loop_before_anything_runs()
    {
        var clock = new TestClock();
        var log = new List<string>();
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        var source = new RecordingSource(clock, log, "s");
        new PollLoop(TimeSpan.FromMilliseconds(100), stop.Token, clock).Pump(source).EveryTick(() => log.Add("tick")).Run();
        Assert.Equal(0, source.Pumps);
        Assert.Empty(log);
    }

    [Fact]
    public void A_late_tick_or_period_does_not_run_again_to_catch_up()
    {
        var clock = new TestClock();
        var log = new List<string>();
        var loop = new PollLoop(TimeSpan.FromMilliseconds(100), CancellationToken.None, clock);
        int periods = 0;
        loop.EveryTick(() =>
            {
                log.Add($"tick at {At(clock)}");
                if (log.Count == 1) clock.MonotonicNs += 350 * Ms; // a slow draw
            })
            .Every(TimeSpan.FromMilliseconds(200), () =>
            {
                log.Add($"period at {At(clock)}");
                if (++periods == 2) loop.Stop();
            })
            .Run();
        // overdue at 450 ms: the tick (due at 200, 300, 400) and the period (due at 200, 400) run
        // once each, then on their grid again
        Assert.Equal(["tick at 100 ms", "period at 450 ms", "tick at 450 ms", "period at 550 ms"], log);
    }
}
