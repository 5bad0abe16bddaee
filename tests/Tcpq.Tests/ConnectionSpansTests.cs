using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Spans;

namespace Tcpq.Tests;

/// <summary>trace's finished connections as spans: the tracker's hook and the timeline as a
/// <see cref="ConnectionSpan"/> (how the span becomes OTLP: <see cref="OtlpTraceEncoderTests"/>;
/// sent to the real Aspire dashboard in the kernel tests).</summary>
public class ConnectionSpansTests
{
    private sealed class Recorded : IConnectionSpanSink
    {
        public readonly List<(ConnectionSpan Span, List<ConnectionSpanEvent> Events)> Spans = [];

        public void Write(ConnectionSpan span)
        {
            // the source reuses its span: keep a copy, as a sink must
            var copy = new ConnectionSpan
            {
                TraceId = span.TraceId, Key = span.Key, FirstSynNs = span.FirstSynNs, EstablishedNs = span.EstablishedNs,
                AcceptNs = span.AcceptNs, FirstReadNs = span.FirstReadNs, FirstWriteNs = span.FirstWriteNs, EndNs = span.EndNs,
                Pid = span.Pid, Comm = span.Comm, Aborted = span.Aborted, AbortReason = span.AbortReason, Attempts = span.Attempts,
                Unfinished = span.Unfinished, Workload = span.Workload,
            };
            Spans.Add((copy, [.. span.Events]));
        }
    }

    private static (Recorded Sink, ConnectionTracker Tracker) Track(Scenario s, bool complete = true)
    {
        var sink = new Recorded();
        var spans = new TimelineSpans(sink, DropReasons.Empty, key => key.Port == 2000 ? new Workload("c0ffee", null, "web") : null);
        var tracker = new ConnectionTracker(new TrackerOptions { Finished = spans.OnFinished, KeepMarks = true, Application = ApplicationRows.None });
        foreach (var e in s.Events) tracker.OnEvent(e);
        if (complete) tracker.Complete();
        return (sink, tracker);
    }

    [Fact]
    public void A_retried_connection_becomes_one_span_with_its_drops_and_retries_as_events()
    {
        const string c = "172.16.170.1";
        var s = new Scenario()
            .Syn(c, 50066, 10, 1, (0, 2, 1)).SynDrop(c, 50066, 10.01, 1, (0, 2, 1))
            .Syn(c, 50066, 1010, 2, (0, 2, 1), firstMs: 10).SynDrop(c, 50066, 1010.01, 2, (0, 2, 1))
            .Syn(c, 50066, 3010, 3, (0, 1, 1), firstMs: 10)
            .Established(c, 50066, 3010.2, 10, 3, (1, 1, 1))
            .Accept(c, 50066, 3510.2, 3010.2);
        var (span, events) = Assert.Single(Track(s).Sink.Spans);
        Assert.Equal((Scenario.Ms(10), Scenario.Ms(3010.2), Scenario.Ms(3510.2)), (span.FirstSynNs, span.EstablishedNs, span.AcceptNs));
        Assert.Equal((812u, "nginx", 3u, false), (span.Pid, span.Comm, span.Attempts, span.Aborted));
        Assert.Equal("web", span.Workload?.ContainerName);
        Assert.Equal(["syn-drop", "syn-retry", "syn-drop", "syn-retry"], events.Select(e => e.Name));
        Assert.Equal([1u, 2u, 2u, 3u], events.Select(e => e.Attempt));
        Assert.Equal("accept-queue-full", events[0].Reason);
        Assert.Equal(Scenario.Ms(1010), events[1].AtNs);
    }

    [Fact]
    public void A_connection_reset_in_the_handshake_is_aborted_with_its_reason()
    {
        var s = new Scenario().Syn("10.0.0.9", 40000, 0, 1, (0, 0, 8)).Established("10.0.0.9", 40000, 0.1, 0, 1, (1, 0, 8))
            .Abort("10.0.0.9", 40000, 50, 0.1);
        var (span, events) = Assert.Single(Track(s).Sink.Spans);
        Assert.True(span.Aborted);
        Assert.Equal("peer-reset", span.AbortReason);
        Assert.Equal(Scenario.Ms(50), span.EndNs);
        Assert.Equal("abort", Assert.Single(events).Name);
    }

    [Fact]
    public void Connections_leave_the_tracker_when_their_linger_has_passed_on_the_kernels_clock()
    {
        var s = new Scenario().Syn("10.0.0.9", 40000, 0, 1, (0, 0, 8)).Established("10.0.0.9", 40000, 0.1, 0, 1, (1, 0, 8))
            .Accept("10.0.0.9", 40000, 300, 0.1);
        var (sink, tracker) = Track(s, complete: false);
        Assert.Empty(sink.Spans); // lingering for late events
        tracker.ExpireAt(Scenario.Ms(300) + new TrackerOptions().LingerNs - 1);
        Assert.Empty(sink.Spans);
        tracker.ExpireAt(Scenario.Ms(300) + new TrackerOptions().LingerNs + 1);
        Assert.Null(Assert.Single(sink.Spans).Span.Unfinished);
        tracker.Complete();
        Assert.Single(sink.Spans); // once
    }

    [Fact]
    public void Without_spans_the_tracker_keeps_no_marks()
    {
        var tracker = new ConnectionTracker();
        var s = new Scenario().Syn("10.0.0.9", 40000, 0, 1, (0, 2, 1)).SynDrop("10.0.0.9", 40000, 0.01, 1, (0, 2, 1));
        ConnectionTimeline? seen = null;
        var watching = new ConnectionTracker(new TrackerOptions { Finished = (t, _) => seen ??= t });
        foreach (var e in s.Events) { tracker.OnEvent(e); watching.OnEvent(e); }
        watching.Complete();
        Assert.NotNull(seen);
        Assert.Empty(seen.Marks);
    }
}
