using Tcpq.Connections;
using Tcpq.Dotnet;
using Tcpq.Spans;

namespace Tcpq.Tests;

/// <summary>The application's request spans (issue 25): the DiagnosticSource bridge's payload
/// decoded into ids and a 4-tuple, joined to the connection it came on, and copied to the
/// connection's span as links.</summary>
public class RequestLinkTests
{
    private const uint Pid = 812;
    private static readonly DotnetProcess Web = new((int)Pid, "web", 4026531840, true, "/tmp/dotnet-diagnostic-812-1-socket", (int)Pid, null);
    private const string Trace1 = "0af7651916cd43dd8448eb211c80319c", Span1 = "b7ad6b7169203331";
    private const string Trace2 = "4bf92f3577b34da6a3ce929d0e0e4736", Span2 = "00f067aa0ba902b7";

    /// <summary>The bridge's arguments for one request, as the payload spec names them.</summary>
    private static KeyValuePair<string, string?>[] Args(string? trace, string? span, ushort clientPort, string client = "10.0.0.1", string? recorded = "True", string local = "127.0.0.1") =>
    [
        new("TraceId", trace), new("SpanId", span), new("Recorded", recorded),
        new("RemoteAddress", client), new("RemotePort", clientPort.ToString()),
        new("LocalAddress", local), new("LocalPort", "2000"),
    ];

    /// <summary>The kernel's rows of connections from 10.0.0.1 accepted by web[812], in a tracker not yet completed.</summary>
    private static ConnectionTracker Accepted(Scenario s)
    {
        var tracker = new ConnectionTracker(new TrackerOptions { Application = ApplicationRows.None });
        foreach (var e in s.Events) tracker.OnEvent(e);
        return tracker;
    }

    private static Scenario Connection(Scenario s, ushort port, double atMs, uint pid = Pid) =>
        s.Syn("10.0.0.1", port, atMs, 1, (0, 0, 128)).Established("10.0.0.1", port, atMs + 0.2, atMs, 1, (1, 0, 128))
         .Accept("10.0.0.1", port, atMs + 1, atMs + 0.2, pid: pid, comm: "web");

    private static ConnectionTimeline? Find(ConnectionTracker tracker, ushort port) =>
        tracker.Find(ConnectionKey.Of(new Scenario().Make(Events.EventKind.Accept, "10.0.0.1", port, 0)));

    [Fact]
    public void Two_requests_on_one_keep_alive_connection_are_both_joined_to_it_each_with_its_own_trace()
    {
        var s = Connection(new Scenario(), 40000, 0);
        var tracker = Accepted(s);
        var bridge = new RequestSpanDecoder(Web, tracker);
        bridge.Decode(Scenario.Ms(5), RequestSpanDecoder.Listener, RequestSpanDecoder.StartEvent, Args(Trace1, Span1, 40000));
        // a dual-stack socket says its addresses IPv4-mapped: the same connection
        bridge.Decode(Scenario.Ms(9), RequestSpanDecoder.Listener, RequestSpanDecoder.StartEvent, Args(Trace2, Span2, 40000, client: "::ffff:10.0.0.1", local: "::ffff:127.0.0.1"));

        var t = Find(tracker, 40000)!;
        Assert.Equal([$"{Trace1} {Span1}", $"{Trace2} {Span2}"], t.RequestSpans!.Select(x => $"{x.TraceId} {x.SpanId}"));
        Assert.Equal([Scenario.Ms(5), Scenario.Ms(9)], t.RequestSpans!.Select(x => x.StartNs));
        Assert.Equal((2, 0, 0), (tracker.RequestLinks.Joined, tracker.RequestLinks.Unjoined, tracker.RequestLinks.PastLimit));
        Assert.Equal(2, bridge.Links);

        var span = new ConnectionSpan();
        AppRequestLinks.CopyTo(t, span);
        Assert.Equal([new AppRequestLink(Trace1, Span1), new AppRequestLink(Trace2, Span2)], span.AppRequests);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_live_trace_lets_finished_connections_go_after_250_ms_and_after_2_s_once_a_dotnet_process_is_joined(bool joined)
    {
        // a .NET process's request spans come through EventPipe, up to seconds after the kernel's
        // rows: a keep-alive connection's later requests must still find their connection
        var s = Connection(new Scenario(), 40000, 0, pid: 999); // accepted by a process not joined itself
        var tracker = new ConnectionTracker(new TrackerOptions { Application = ApplicationRows.None, LingerNs = TrackerOptions.LiveLingerNs });
        if (joined) tracker.ExpectApp(Pid);
        foreach (var e in s.Events) tracker.OnEvent(e);

        tracker.ExpireAt(Scenario.Ms(1 + 200));
        Assert.NotNull(Find(tracker, 40000));
        tracker.ExpireAt(Scenario.Ms(1 + 300));
        Assert.Equal(joined, Find(tracker, 40000) is not null);
        tracker.ExpireAt(Scenario.Ms(1 + 2100));
        Assert.Null(Find(tracker, 40000));
    }

    [Fact]
    public void A_request_span_keeps_later_connections_2_s_though_its_process_was_never_announced()
    {
        var s = Connection(new Scenario(), 40000, 0);
        var tracker = new ConnectionTracker(new TrackerOptions { Application = ApplicationRows.None, LingerNs = TrackerOptions.LiveLingerNs });
        foreach (var e in s.Events) tracker.OnEvent(e);
        new RequestSpanDecoder(Web, tracker).Decode(Scenario.Ms(5), RequestSpanDecoder.Listener, RequestSpanDecoder.StartEvent, Args(Trace1, Span1, 40000));

        tracker.ExpireAt(Scenario.Ms(1 + 1000));
        Assert.NotNull(Find(tracker, 40000));
    }

    [Fact]
    public void A_request_joins_only_its_own_connection_by_port_process_and_namespace()
    {
        var s = Connection(new Scenario(), 40000, 0);
        Connection(s, 40001, 0.5, pid: 999); // another process accepted this one
        var tracker = Accepted(s);
        var bridge = new RequestSpanDecoder(Web, tracker);
        bridge.Decode(Scenario.Ms(5), RequestSpanDecoder.Listener, RequestSpanDecoder.StartEvent, Args(Trace1, Span1, 40001));
        bridge.Decode(Scenario.Ms(6), RequestSpanDecoder.Listener, RequestSpanDecoder.StartEvent, Args(Trace1, Span1, 40002)); // no such connection
        new RequestSpanDecoder(Web with { NetNs = 4026532000 }, tracker) // the same 4-tuple in another namespace
            .Decode(Scenario.Ms(7), RequestSpanDecoder.Listener, RequestSpanDecoder.StartEvent, Args(Trace2, Span2, 40000));

        Assert.Null(Find(tracker, 40000)!.RequestSpans);
        Assert.Null(Find(tracker, 40001)!.RequestSpans);
        Assert.Equal((0, 3), (tracker.RequestLinks.Joined, tracker.RequestLinks.Unjoined));
    }

    [Fact]
    public void A_client_that_reconnects_from_the_same_port_has_each_request_on_the_connection_accepted_before_it()
    {
        var s = Connection(new Scenario(), 40000, 0);
        var tracker = new ConnectionTracker(new TrackerOptions { Application = ApplicationRows.None });
        foreach (var e in s.Events) tracker.OnEvent(e);
        var bridge = new RequestSpanDecoder(Web, tracker);
        bridge.Decode(Scenario.Ms(2), RequestSpanDecoder.Listener, RequestSpanDecoder.StartEvent, Args(Trace1, Span1, 40000));
        var first = Find(tracker, 40000)!;
        // the client's new SYN does not end the first connection: its app sent a request span, more may be on their way
        var again = Connection(new Scenario(), 40000, 10);
        foreach (var e in again.Events) tracker.OnEvent(e);
        bridge.Decode(Scenario.Ms(12), RequestSpanDecoder.Listener, RequestSpanDecoder.StartEvent, Args(Trace2, Span2, 40000));
        var second = Find(tracker, 40000)!;
        Assert.NotSame(first, second);
        Assert.Equal(Trace2, second.RequestSpans!.Single().TraceId.ToHexString());
        Assert.Equal(Trace1, first.RequestSpans!.Single().TraceId.ToHexString());
    }

    [Fact]
    public void Past_the_limit_a_connections_request_spans_are_counted_not_kept_and_a_reused_timeline_starts_empty()
    {
        var s = Connection(new Scenario(), 40000, 0);
        var tracker = Accepted(s);
        var bridge = new RequestSpanDecoder(Web, tracker);
        for (int i = 0; i < ConnectionTimeline.MaxRequestSpans + 3; i++)
            bridge.Decode(Scenario.Ms(2 + i), RequestSpanDecoder.Listener, RequestSpanDecoder.StartEvent, Args($"{i + 1:x32}", Span1, 40000));
        var t = Find(tracker, 40000)!;
        Assert.Equal(ConnectionTimeline.MaxRequestSpans, t.RequestSpans!.Count);
        Assert.Equal(3u, t.RequestSpansDropped);
        Assert.Equal((ConnectionTimeline.MaxRequestSpans, 3), (tracker.RequestLinks.Joined, tracker.RequestLinks.PastLimit));
        // a keep-alive connection lingers from its last request, not from its accept
        Assert.Equal(Scenario.Ms(2 + ConnectionTimeline.MaxRequestSpans + 2), t.LastNs);

        t.Reset(default);
        Assert.Empty(t.RequestSpans!);
        Assert.Equal(0u, t.RequestSpansDropped);
    }

    [Theory]
    [InlineData(Trace1, Span1, "False")]                              // ASP.NET Core's own activity for log scopes: no backend has it
    [InlineData(Trace1, Span1, null)]
    [InlineData("00000000000000000000000000000000", Span1, "True")]  // no W3C id
    [InlineData("0AF7651916CD43DD8448EB211C80319C", Span1, "True")]  // not as W3C writes it
    [InlineData(Trace1, "b7ad6b71692033", "True")]
    [InlineData(null, null, "True")]
    public void A_request_without_a_recorded_span_is_not_linked(string? trace, string? span, string? recorded)
    {
        var tracker = Accepted(Connection(new Scenario(), 40000, 0));
        var bridge = new RequestSpanDecoder(Web, tracker);
        bridge.Decode(Scenario.Ms(5), RequestSpanDecoder.Listener, RequestSpanDecoder.StartEvent, Args(trace, span, 40000, recorded: recorded));
        Assert.Equal((0, 1, 0), (bridge.Links, bridge.Untraced, bridge.Unconnected));
        Assert.Equal(0, tracker.RequestLinks.Joined + tracker.RequestLinks.Unjoined);
    }

    [Fact]
    public void Requests_whose_connection_could_not_be_read_are_said_once_and_not_joined()
    {
        var tracker = Accepted(Connection(new Scenario(), 40000, 0));
        var bridge = new RequestSpanDecoder(Web, tracker);
        var said = new List<DotnetProcess>();
        bridge.FirstUnconnected += said.Add;
        // a trimmed app: the fetch of HttpContext.Connection found no property, the bridge sends no value
        KeyValuePair<string, string?>[] trimmed = [new("TraceId", Trace1), new("SpanId", Span1), new("Recorded", "True")];
        bridge.Decode(Scenario.Ms(5), RequestSpanDecoder.Listener, RequestSpanDecoder.StartEvent, trimmed);
        bridge.Decode(Scenario.Ms(6), RequestSpanDecoder.Listener, RequestSpanDecoder.StartEvent, trimmed);
        bridge.Decode(Scenario.Ms(7), RequestSpanDecoder.Listener, RequestSpanDecoder.StartEvent, Args(Trace1, Span1, 0));
        Assert.Equal([Web], said);
        Assert.Equal((0, 3), (bridge.Links, bridge.Unconnected));
        Assert.Equal(0, tracker.RequestLinks.Joined + tracker.RequestLinks.Unjoined);
    }

    [Fact]
    public void Other_events_of_the_bridge_are_not_requests()
    {
        var tracker = Accepted(Connection(new Scenario(), 40000, 0));
        var bridge = new RequestSpanDecoder(Web, tracker);
        bridge.Decode(Scenario.Ms(5), RequestSpanDecoder.Listener, "Microsoft.AspNetCore.Hosting.HttpRequestIn.Stop", Args(Trace1, Span1, 40000));
        bridge.Decode(Scenario.Ms(5), "HttpHandlerDiagnosticListener", RequestSpanDecoder.StartEvent, Args(Trace1, Span1, 40000));
        Assert.Equal((0, 0, 0), (bridge.Links, bridge.Untraced, bridge.Unconnected));
    }

    [Fact]
    public void The_bridge_is_asked_only_when_spans_are_and_then_for_one_event_with_only_the_properties_read()
    {
        foreach (var depth in Enum.GetValues<AppDepth>())
        {
            Assert.DoesNotContain(AppSession.Providers(depth), p => p.Name == RequestSpanDecoder.Provider);
            var bridge = Assert.Single(AppSession.Providers(depth, requestSpans: true), p => p.Name == RequestSpanDecoder.Provider);
            Assert.Equal(0x2, bridge.Keywords); // Events, not Messages
            var spec = Assert.Single(bridge.Arguments!).Value;
            // one DiagnosticListener event: no "[AS]" (an ActivitySource listener samples), no wildcard, no @Activity1Start
            Assert.Equal("Microsoft.AspNetCore/Microsoft.AspNetCore.Hosting.HttpRequestIn.Start:-TraceId=*Activity.TraceId;SpanId=*Activity.SpanId;Recorded=*Activity.Recorded;"
                + "RemoteAddress=Connection.RemoteIpAddress;RemotePort=Connection.RemotePort;LocalAddress=Connection.LocalIpAddress;LocalPort=Connection.LocalPort", spec);
            Assert.Single(AppSession.Providers(depth, filtered: false, requestSpans: true), p => p.Name == RequestSpanDecoder.Provider);
        }
    }
}
