using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Spans;

namespace Tcpq.Tests;

/// <summary>The ring buffer's reader keeps the last comm's text, and each reason's name, rather
/// than making a string per connection: the text still follows the process that accepted each
/// connection, and each reason is named as the kernel's.</summary>
public class TimelineSpansCommTests
{
    /// <summary>The scenario's connections through the tracker, each made into a span for
    /// <paramref name="sink"/> as trace --otlp-endpoint wires them (TraceSpans.Tracking).</summary>
    internal static void Finish(Scenario s, IConnectionSpanSink sink)
    {
        var spans = new TimelineSpans(sink, DropReasons.Empty);
        var tracker = new ConnectionTracker(new TrackerOptions { Finished = spans.OnFinished, KeepMarks = true, Application = ApplicationRows.None });
        foreach (var e in s.Events) tracker.OnEvent(e);
        tracker.Complete();
    }

    [Fact]
    public void A_trace_that_only_hands_connections_on_counts_no_listener_and_loses_no_connection()
    {
        // trace --otlp-endpoint without --summary: the listeners' counts would be kept for nothing
        var s = new Scenario();
        for (ushort port = 1000; port < 1003; port++)
            s.Syn("10.0.0.9", port, 0, 1, (0, 0, 8)).Established("10.0.0.9", port, 0.1, 0, 1, (1, 0, 8)).Accept("10.0.0.9", port, 0.2, 0.1);
        var sink = new Comms();
        var spans = new TimelineSpans(sink, DropReasons.Empty);
        var tracker = s.Track(options: new TrackerOptions { Finished = spans.OnFinished, Application = ApplicationRows.None, CountListeners = false }); // Track completes it
        Assert.Equal(3, sink.Seen.Count);
        Assert.Empty(tracker.Listeners);
        // and by default they are counted
        Assert.Equal(3, s.Track(options: new TrackerOptions { Application = ApplicationRows.None }).Listeners.Single().Connections);
    }

    private sealed class Comms : IConnectionSpanSink
    {
        public readonly List<string?> Seen = [];
        public void Write(ConnectionSpan span) => Seen.Add(span.Comm);
    }

    [Fact]
    public void Each_span_names_the_process_that_accepted_it_and_a_repeated_one_reuses_its_text()
    {
        var sink = new Comms();
        var s = new Scenario()
            .Quick("10.0.0.1", 40001, 0, comm: "nginx").Quick("10.0.0.1", 40002, 1, comm: "nginx")
            .Quick("10.0.0.1", 40003, 2, comm: "nginx-worker").Quick("10.0.0.1", 40004, 3, comm: "ngin");
        Finish(s, sink);

        Assert.Equal(["nginx", "nginx", "nginx-worker", "ngin"], sink.Seen); // finished in the order they came
        var nginx = sink.Seen.Where(c => c == "nginx").ToList();
        Assert.Same(nginx[0], nginx[1]);
    }

    private sealed class Reasons : IConnectionSpanSink
    {
        public readonly List<(string? Abort, string? Event)> Seen = [];
        public void Write(ConnectionSpan span) => Seen.Add((span.AbortReason, span.Events.LastOrDefault().Reason));
    }

    [Fact]
    public void Reset_connections_name_their_reason_with_one_string_for_all()
    {
        var sink = new Reasons();
        var s = new Scenario();
        for (int i = 0; i < 3; i++)
            s.Syn("10.0.0.9", (ushort)(40000 + i), i, 1, (0, 0, 8)).Established("10.0.0.9", (ushort)(40000 + i), i + 0.1, i, 1, (1, 0, 8))
                .Abort("10.0.0.9", (ushort)(40000 + i), i + 0.5, i + 0.1);
        Finish(s, sink);

        Assert.Equal(3, sink.Seen.Count);
        Assert.All(sink.Seen, r => Assert.Equal(("peer-reset", "peer-reset"), r));
        Assert.All(sink.Seen, r => Assert.Same(sink.Seen[0].Abort, r.Abort));
        Assert.All(sink.Seen, r => Assert.Same(sink.Seen[0].Abort, r.Event));
    }

    private sealed class Nowhere : IConnectionSpanSink
    {
        public void Write(ConnectionSpan span) { }
    }

    /// <summary>Bytes the tracker allocates on the reader's thread per connection of accept and
    /// reset: the fewest of five batches of 2,000 connections, after 10,000 that warm the pools and
    /// the handoff's slots.</summary>
    private static double BytesPerConnection(bool spans)
    {
        using var handoff = new ConnectionSpanHandoff(new Nowhere(), 8192, TimeSpan.FromMilliseconds(5));
        var timelineSpans = new TimelineSpans(handoff, DropReasons.Empty);
        var tracker = new ConnectionTracker(new TrackerOptions { Finished = spans ? timelineSpans.OnFinished : null, KeepMarks = true, Application = ApplicationRows.None });
        const int Warm = 10000, Batch = 2000, Batches = 5;
        var s = new Scenario();
        for (int i = 0; i < Warm + Batch * Batches; i++)
        {
            var port = (ushort)(1000 + i);
            s.Syn("10.0.0.9", port, i, 1, (0, 0, 8)).Established("10.0.0.9", port, i + 0.1, i, 1, (1, 0, 8))
                .Accept("10.0.0.9", port, i + 0.2, i + 0.1).Abort("10.0.0.9", port, i + 0.5, i + 0.1);
        }
        var events = s.Events.ToArray();
        int perConnection = events.Length / (Warm + Batch * Batches);
        int next = 0;
        void Feed(int count)
        {
            for (int end = next + count * perConnection; next < end; next++) tracker.OnEvent(events[next]);
            tracker.ExpireAt(Scenario.Ms(next / perConnection + 5000));
        }
        Feed(Warm);
        return SteadyAllocations.Fewest(() => Feed(Batch), Batches) / (double)Batch;
    }

    [Fact]
    public void Making_each_connection_a_span_and_handing_it_on_allocates_nothing_on_the_readers_thread()
    {
        // the same connections with and without spans: the spans' side (TimelineSpans, the handoff's
        // copy) adds no byte to what the tracker itself allocates
        Assert.Equal(BytesPerConnection(spans: false), BytesPerConnection(spans: true));
    }
}
