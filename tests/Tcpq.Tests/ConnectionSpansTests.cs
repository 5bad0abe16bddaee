using System.Diagnostics;
using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Spans;

namespace Tcpq.Tests;

/// <summary>trace's finished connections as spans: the tracker's hook, the timeline as a
/// <see cref="ConnectionSpan"/>, and the span as OpenTelemetry activities, caught by an
/// <see cref="ActivityListener"/> of the test's own source (the exporter's OTLP side is tested
/// against the real Aspire dashboard in the kernel tests).</summary>
[Collection(ActivityTests.Name)]
public class ConnectionSpansTests
{
    private static readonly WallClock Clock = new(new DateTime(2026, 12, 7, 12, 0, 0, DateTimeKind.Utc), (long)Scenario.Start);
    private static DateTime At(double ms) => Clock.ToUtc(Scenario.Ms(ms));

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

    [Fact]
    public void A_span_is_a_server_root_with_a_child_for_each_wait_at_the_kernels_times()
    {
        var span = new ConnectionSpan
        {
            Key = Key("10.0.0.5", 8080, "172.16.170.1", 50066),
            FirstSynNs = Scenario.Ms(0), EstablishedNs = Scenario.Ms(0.05), AcceptNs = Scenario.Ms(300.05),
            FirstReadNs = Scenario.Ms(300.1), FirstWriteNs = Scenario.Ms(302), EndNs = Scenario.Ms(303),
            Pid = 812, Comm = "nginx", Attempts = 1, Workload = new Workload("c0ffee", "uid-1", "web", "web-0", "shop", "nginx"),
        };
        span.Events.Add(new ConnectionSpanEvent("syn-cookie", Scenario.Ms(0.01)));
        var (activities, made) = Emit(span);
        Assert.Equal(5, made);
        var root = Assert.Single(activities, a => a.Parent is null && a.ParentSpanId == default);
        Assert.Equal(("connection :8080", ActivityKind.Server), (root.DisplayName, root.Kind));
        Assert.Equal(At(0), root.StartTimeUtc);
        Assert.Equal(At(303), root.StartTimeUtc + root.Duration);
        Assert.Equal(ActivityStatusCode.Unset, root.Status);
        var tags = root.TagObjects.ToDictionary(t => t.Key, t => t.Value);
        Assert.Equal("10.0.0.5", tags["server.address"]);
        Assert.Equal(8080L, tags["server.port"]);
        Assert.Equal("172.16.170.1", tags["client.address"]);
        Assert.Equal(50066L, tags["client.port"]);
        Assert.Equal(("ipv4", "tcp"), (tags["network.type"], tags["network.transport"]));
        Assert.Equal((812L, "nginx"), (tags["process.pid"], tags["process.executable.name"]));
        Assert.Equal(("c0ffee", "web-0", "shop"), (tags["container.id"], tags["k8s.pod.name"], tags["k8s.namespace.name"]));
        Assert.Equal("syn-cookie", Assert.Single(root.Events).Name);
        Assert.Equal(At(0.01), Assert.Single(root.Events).Timestamp.UtcDateTime);

        var children = activities.Where(a => a != root).ToDictionary(a => a.DisplayName);
        Assert.All(children.Values, c => Assert.Equal((root.TraceId, root.SpanId), (c.TraceId, c.ParentSpanId)));
        Assert.Equal(TimeSpan.FromMilliseconds(300), children[ConnectionActivities.AcceptQueueWait].Duration);
        Assert.Equal(At(0.05), children[ConnectionActivities.AcceptQueueWait].StartTimeUtc);
        Assert.Equal(TimeSpan.FromMilliseconds(0.05), children[ConnectionActivities.Handshake].Duration);
        Assert.Equal(TimeSpan.FromMilliseconds(0.05), children[ConnectionActivities.AcceptToFirstRead].Duration);
        Assert.Equal(TimeSpan.FromMilliseconds(1.9), children[ConnectionActivities.FirstReadToFirstWrite].Duration);
    }

    [Fact]
    public void Waits_whose_ends_were_not_both_seen_make_no_child_and_an_abort_is_an_error()
    {
        var span = new ConnectionSpan
        {
            Key = Key("::1", 443, "::1", 40000), FirstSynNs = Scenario.Ms(0), EndNs = Scenario.Ms(3000),
            Aborted = true, AbortReason = "peer-reset", Attempts = 3,
        };
        var (activities, made) = Emit(span);
        var root = Assert.Single(activities);
        Assert.Equal(1, made);
        Assert.Equal((ActivityStatusCode.Error, "peer-reset"), (root.Status, root.StatusDescription));
        Assert.Equal("peer-reset", root.GetTagItem("error.type"));
        Assert.Equal("ipv6", root.GetTagItem("network.type"));
        Assert.Null(root.GetTagItem("process.pid"));
    }

    [Fact]
    public void The_source_may_choose_the_trace_id()
    {
        var chosen = ActivityTraceId.CreateRandom();
        var span = new ConnectionSpan { Key = Key("10.0.0.5", 80, "10.0.0.6", 1234), TraceId = chosen, FirstSynNs = Scenario.Ms(0), EstablishedNs = Scenario.Ms(1), EndNs = Scenario.Ms(1) };
        var (activities, _) = Emit(span);
        Assert.Equal(2, activities.Count);
        Assert.All(activities, a => Assert.Equal(chosen, a.TraceId));
        // and the next connection gets a trace of its own
        span.TraceId = default;
        var (again, _) = Emit(span);
        Assert.NotEqual(chosen, again[0].TraceId);
    }

    [Fact]
    public void The_applications_requests_are_links_of_the_connection_span()
    {
        var span = new ConnectionSpan { Key = Key("10.0.0.5", 80, "10.0.0.6", 1234), FirstSynNs = Scenario.Ms(0), EndNs = Scenario.Ms(5) };
        span.AppRequests.Add(new AppRequestLink("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"));
        span.AppRequests.Add(new AppRequestLink("4BF92F3577B34DA6A3CE929D0E0E4736", "00F067AA0BA902B7")); // upper case, as some print them
        span.AppRequests.Add(new AppRequestLink("not-a-trace-id", "b7ad6b7169203331"));
        span.AppRequests.Add(new AppRequestLink("00000000000000000000000000000000", "b7ad6b7169203331"));
        var root = Assert.Single(Emit(span).Activities);
        var links = root.Links.ToList();
        Assert.Equal(2, links.Count);
        Assert.Equal(("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"), (links[0].Context.TraceId.ToHexString(), links[0].Context.SpanId.ToHexString()));
        Assert.Equal(("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"), (links[1].Context.TraceId.ToHexString(), links[1].Context.SpanId.ToHexString()));
        Assert.NotEqual(links[0].Context.TraceId, root.TraceId); // the request's own trace, linked, not joined
    }

    [Fact]
    public void Nothing_is_made_when_nothing_listens()
    {
        using var source = new ActivitySource("tcpq.test.unheard");
        Assert.Equal(0, ConnectionActivities.Emit(source, new ConnectionSpan { FirstSynNs = 1, EndNs = 2 }, Clock));
    }

    private static ConnectionKey Key(string server, ushort serverPort, string client, ushort clientPort)
    {
        var k = new TcpqEvent { SourcePort = clientPort, DestPort = serverPort, NetNs = 4026531840 };
        TestEvents.SetAddress(ref k.SourceAddress, client);
        TestEvents.SetAddress(ref k.DestAddress, server);
        return ConnectionKey.Of(k);
    }

    private static (List<Activity> Activities, int Made) Emit(ConnectionSpan span)
    {
        using var source = new ActivitySource("tcpq.test");
        var stopped = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s == source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Add,
        };
        ActivitySource.AddActivityListener(listener);
        int made = ConnectionActivities.Emit(source, span, Clock);
        return (stopped, made);
    }
}

/// <summary>Tests that listen to activities run one at a time: Activity.TraceIdGenerator and the
/// listeners are the process's.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ActivityTests
{
    public const string Name = "activities";
}
