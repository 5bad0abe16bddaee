using Tcpq.Connections;
using Tcpq.Spans;

namespace Tcpq.Tests;

/// <summary>The handoff from the ring buffer's reader to the spans' thread: every connection
/// reaches the exporter whole and in order though the source reuses its span, and a spans' thread
/// that is behind makes the reader leave connections out, counted, instead of waiting.</summary>
public class ConnectionSpanHandoffTests
{
    /// <summary>A sink that keeps copies, and that can be held (the exporter busy).</summary>
    private sealed class Held : IConnectionSpanSink, IDisposable
    {
        public readonly ManualResetEventSlim Open = new(true);
        public readonly List<ConnectionSpan> Seen = [];
        public int Threads => _threads.Count;
        private readonly HashSet<int> _threads = [];

        public void Write(ConnectionSpan span)
        {
            Open.Wait();
            var copy = new ConnectionSpan();
            span.CopyTo(copy);
            lock (Seen)
            {
                Seen.Add(copy);
                _threads.Add(Environment.CurrentManagedThreadId);
            }
        }

        public void Dispose() => Open.Dispose();
    }

    private static void Fill(ConnectionSpan span, int i)
    {
        span.Reset();
        span.Key = new ConnectionKey(1, default, (ushort)(40000 + i), default, 80);
        span.FirstSynNs = (ulong)(1000 + i);
        span.Comm = "nginx";
        span.Aborted = i % 2 == 1;
        for (int e = 0; e < i % 3; e++) span.Events.Add(new ConnectionSpanEvent("syn-retry", (ulong)(1000 + i + e), Attempt: (uint)e + 2));
        if (i % 4 == 0) span.AppRequests.Add(new AppRequestLink(new string('a', 32), new string('b', 16)));
    }

    [Fact]
    public void Every_connection_reaches_the_sink_whole_and_in_order_on_another_thread()
    {
        using var sink = new Held();
        var handoff = new ConnectionSpanHandoff(sink, slots: 8, wakeEvery: TimeSpan.FromMilliseconds(1));
        var reused = new ConnectionSpan();
        int written = 0;
        // more connections than slots: the spans' thread frees them as it goes (the writer waits
        // for a free slot here only so that none is dropped; the command's reader never waits)
        while (written < 100)
        {
            long before = handoff.Dropped;
            Fill(reused, written);
            handoff.Write(reused);
            if (handoff.Dropped == before) written++;
            else Thread.Yield();
        }
        Assert.True(handoff.Complete(TimeSpan.FromSeconds(30)));

        Assert.Equal(100, handoff.Handed);
        Assert.Equal(100, sink.Seen.Count);
        for (int i = 0; i < 100; i++)
        {
            var s = sink.Seen[i];
            Assert.Equal((ushort)(40000 + i), s.Key.SourcePort);
            Assert.Equal((ulong)(1000 + i), s.FirstSynNs);
            Assert.Equal(i % 2 == 1, s.Aborted);
            Assert.Equal("nginx", s.Comm);
            Assert.Equal(i % 3, s.Events.Count);
            Assert.Equal(i % 4 == 0 ? 1 : 0, s.AppRequests.Count);
        }
        Assert.Equal(1, sink.Threads);
        handoff.Dispose();
    }

    [Fact]
    public void A_spans_thread_that_is_behind_makes_the_reader_leave_connections_out_counted_not_wait()
    {
        using var sink = new Held();
        sink.Open.Reset(); // the exporter takes the first connection and does not return
        var handoff = new ConnectionSpanHandoff(sink, slots: 4, wakeEvery: TimeSpan.FromMilliseconds(1));
        var reused = new ConnectionSpan();
        for (int i = 0; i < 10; i++)
        {
            Fill(reused, i);
            handoff.Write(reused); // returns at once: a slot stays taken until the sink is done with it
        }
        Assert.Equal((4L, 6L), (handoff.Handed, handoff.Dropped));
        // asked before a span is made: the next one would be left out, and is counted so
        Assert.True(handoff.LeavesOut());
        Assert.Equal((4L, 7L), (handoff.Handed, handoff.Dropped));

        sink.Open.Set();
        Assert.True(handoff.Complete(TimeSpan.FromSeconds(30)));
        Assert.Equal([40000, 40001, 40002, 40003], sink.Seen.Select(s => (int)s.Key.SourcePort));
        handoff.Dispose();
    }

    /// <summary>A sink whose every connection costs its thread a millisecond of CPU, on a clock the test keeps.</summary>
    private sealed class Costly : IConnectionSpanSink
    {
        public long CpuNs => Volatile.Read(ref _cpuNs);
        public int Seen => (int)(CpuNs / 1_000_000);
        private long _cpuNs;
        public void Write(ConnectionSpan span) => Interlocked.Add(ref _cpuNs, 1_000_000);
    }

    [Fact]
    public void A_spans_thread_past_its_share_of_a_cpu_rests_until_it_has_earned_it_and_the_end_hands_on_the_rest()
    {
        // 1 % of a CPU, no burst, on a wall clock that stands still: the thread is overdrawn after
        // its first 64 connections, and rests (as long as the test lets it) with the other 136 queued
        var sink = new Costly();
        var handoff = new ConnectionSpanHandoff(sink, slots: 256, wakeEvery: TimeSpan.FromMilliseconds(1), drained: null,
            budget: () => new CpuBudget(0.01, TimeSpan.Zero, () => sink.CpuNs, () => 0, maxRest: TimeSpan.FromHours(1)));
        var reused = new ConnectionSpan();
        for (int i = 0; i < 200; i++)
        {
            Fill(reused, i);
            handoff.Write(reused); // the reader wakes it as the slots fill: a rest does not end for that
        }
        while (sink.Seen < 64) Thread.Sleep(1);
        Thread.Sleep(50); // room to go on, if it wrongly did
        Assert.Equal(64, sink.Seen);
        Assert.Equal((200L, 0L), (handoff.Handed, handoff.Dropped));
        // the end cuts the rest short, and the last drain hands on all that is queued
        Assert.True(handoff.Complete(TimeSpan.FromSeconds(30)));
        Assert.Equal(200, sink.Seen);
        handoff.Dispose();
    }

    /// <summary>Every slot taken: it says so when asked, and must not be written to.</summary>
    private sealed class Full : IConnectionSpanSink
    {
        public int Asked;
        public void Write(ConnectionSpan span) => throw new InvalidOperationException("written to though it leaves the connection out");
        public bool LeavesOut()
        {
            Asked++;
            return true;
        }
    }

    [Fact]
    public void A_connection_the_sink_would_leave_out_is_not_made_into_a_span()
    {
        // the timeline of a connection that ended long ago is cold: reading it into a span costs
        // cache misses, spent for nothing when the export's slots are all taken
        var sink = new Full();
        var s = new Scenario();
        for (ushort port = 1000; port < 1003; port++)
            s.Syn("10.0.0.9", port, 0, 1, (0, 0, 8)).Established("10.0.0.9", port, 0.1, 0, 1, (1, 0, 8)).Accept("10.0.0.9", port, 0.2, 0.1);
        TimelineSpansCommTests.Finish(s, sink);

        Assert.Equal(3, sink.Asked);
    }

    private sealed class Failing : IConnectionSpanSink
    {
        public void Write(ConnectionSpan span) => throw new InvalidOperationException("a defect");
    }

    [Fact]
    public void A_failing_exporter_stops_the_spans_not_the_reader_and_what_follows_is_counted()
    {
        var handoff = new ConnectionSpanHandoff(new Failing(), slots: 2, wakeEvery: TimeSpan.FromMilliseconds(1));
        var reused = new ConnectionSpan();
        for (int i = 0; i < 5; i++)
        {
            Fill(reused, i);
            handoff.Write(reused);
        }
        Assert.True(handoff.Complete(TimeSpan.FromSeconds(30)));
        Assert.IsType<InvalidOperationException>(handoff.Failure);
        Assert.Equal(5, handoff.Handed + handoff.Dropped);
        handoff.Write(reused); // after the end: counted, never queued
        Assert.Equal(6, handoff.Handed + handoff.Dropped);
        handoff.Dispose();
    }
}
