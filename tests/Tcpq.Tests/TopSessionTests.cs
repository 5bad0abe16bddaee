using Spectre.Console.Testing;
using Tcpq.Aggregates;
using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Top;

namespace Tcpq.Tests;

/// <summary>The loop of <c>tcpq top</c> with its console and clock injected: the batch snapshots
/// exactly, and the live view driven by keys.</summary>
public class TopSessionTests
{
    /// <summary>Time that passes only when the loop sleeps.</summary>
    private sealed class TestClock : ILoopClock
    {
        public long MonotonicNs { get; private set; } = 1_000_000_000_000;
        public void Sleep(TimeSpan duration, CancellationToken stop) => MonotonicNs += duration.Ticks * 100;
    }

    /// <summary>One listener whose counters grow with the clock: 20 arrivals/s, 15 accepts/s, 5 drops/s
    /// (accept-queue-full), the queue full at 4 of 4, every wait 3 ms.</summary>
    private sealed class GrowingSource(TestClock clock) : IAggregateSource
    {
        private readonly ListenerAggregate _a = new(TopViewTests.Key(2000)) { QMax = 4 };
        private readonly long _startNs = clock.MonotonicNs;
        private long _waits;
        public int Reads { get; private set; }
        public DropReasons Reasons => DropReasons.Empty;

        public AggregateSnapshot Read()
        {
            Reads++;
            double seconds = (clock.MonotonicNs - _startNs) / 1e9;
            _a.Syns = (long)(20 * seconds);
            _a.Accepts = (long)(15 * seconds);
            _a.SynDrops[DropReasons.AcceptQueueFull] = (long)(5 * seconds);
            (_a.Q, _a.PeakQ) = (4, 5);
            for (; _waits < _a.Accepts; _waits++) _a.QueueWait.RecordNs(3_000_000);
            return new AggregateSnapshot(new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddSeconds(seconds), (ulong)clock.MonotonicNs,
                [_a], null, new AggregateCost(0, 0, null, 0));
        }

        public void Dispose() { }
    }

    private sealed class FixedDiagnosis(Finding finding) : IListenerDiagnosis
    {
        public IReadOnlyDictionary<ListenerKey, Finding> TopFindings() => new Dictionary<ListenerKey, Finding> { [TopViewTests.Key(2000)] = finding };
    }

    private static readonly Finding Backlog = new("backlog-too-small", Severity.Critical, ":2000", "the accept queue of :2000 (Qmax 4) was full.");

    [Fact]
    public void Batch_writes_one_plain_snapshot_per_interval_and_stops_after_the_iterations()
    {
        var clock = new TestClock();
        var source = new GrowingSource(clock);
        var session = new TopSession(new TopOptions([2000], TimeSpan.FromSeconds(2), Iterations: 2),
            new TopSource(source, new FixedDiagnosis(Backlog), "ebpf · port 2000"), clock, CancellationToken.None);
        var output = new StringWriter();
        session.RunBatch(output);

        Assert.Equal(2, session.Frames);
        Assert.True(source.Reads > 40, $"{source.Reads} reads: the source is drained every tick between frames");
        string snapshot = """
            tcpq top 2026-01-02 03:04:{0}Z · ebpf · port 2000 · over 2.0 s · 1 listener · sort: worst first · none lost
            LISTENER        ARR/s  ACC/s  Q  QMAX  PEAK  Q0  DROP/s  COOKIE/s  HS p50  HS p99  WAIT p50  WAIT p99  DROPS BY REASON
            127.0.0.1:2000     20     15  4     4     5   0       5         0       -       -    <4.1ms    <4.1ms  accept-queue-full 5/s
              127.0.0.1:2000 backlog-too-small (critical): the accept queue of :2000 (Qmax 4) was full.


            """;
        Assert.Equal(string.Format(snapshot, "07") + string.Format(snapshot, "09"), output.ToString());
    }

    [Fact]
    public void Batch_ends_at_once_when_stopped()
    {
        var clock = new TestClock();
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        var session = new TopSession(new TopOptions([], TimeSpan.FromSeconds(1)), new TopSource(new GrowingSource(clock), null, "ebpf"), clock, stop.Token);
        var output = new StringWriter();
        session.RunBatch(output);
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void Live_redraws_in_place_resorts_on_a_key_and_quits_on_q()
    {
        var clock = new TestClock();
        var console = new Spectre.Console.Testing.TestConsole().Width(160);
        console.Profile.Capabilities.Ansi = true;
        var session = new TopSession(new TopOptions([2000], TimeSpan.FromSeconds(1)),
            new TopSource(new GrowingSource(clock), new FixedDiagnosis(Backlog), "ebpf · port 2000"), clock, CancellationToken.None);
        console.Input.PushCharacter('>');
        console.Input.PushCharacter('q');
        session.RunLive(console, keys: true);

        string screen = console.Output;
        Assert.Contains("sort: worst first", screen);
        Assert.Contains("sort: LISTENER ↑", screen);
        Assert.Contains("127.0.0.1:2000", screen);
        Assert.Contains("backlog-too-small (critical)", screen);
        Assert.Contains("q quit · p pause", screen);
        Assert.Contains("\e[", screen); // drawn with escape codes: Spectre's live display moves the cursor back over the last frame
    }

    [Fact]
    public void Live_stops_after_the_iterations_without_keys()
    {
        var clock = new TestClock();
        var console = new Spectre.Console.Testing.TestConsole().Width(100);
        var session = new TopSession(new TopOptions([2000], TimeSpan.FromSeconds(1), Iterations: 3),
            new TopSource(new GrowingSource(clock), null, "ebpf · port 2000"), clock, CancellationToken.None);
        session.RunLive(console, keys: false);
        Assert.Equal(3, session.Frames);
        Assert.Contains("over 1.0 s", console.Output);
        Assert.Contains("ARR/s", console.Output);
    }
}
