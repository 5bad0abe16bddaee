using System.Diagnostics;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Spans;

namespace Tcpq.Tests;

/// <summary>tcpq's own OTLP encoder, read back by Google.Protobuf with the classes compiled from
/// opentelemetry-proto's definitions (Protos/): what a collector decodes, not what the encoder
/// believes it wrote. The Aspire dashboard decodes the same bytes in the kernel tests.</summary>
public class OtlpTraceEncoderTests
{
    private static readonly DateTime Start = new(2026, 12, 7, 12, 0, 0, DateTimeKind.Utc);
    private static readonly WallClock Clock = new(Start, (long)Scenario.Start);

    /// <summary>Unix ns of the scenario's <paramref name="ms"/>.</summary>
    private static ulong At(double ms) => (ulong)(Start - DateTime.UnixEpoch).Ticks * 100 + (ulong)Math.Round(ms * 1e6);

    private static ExportTraceServiceRequest Decode(ArraySegment<byte> bytes) => ExportTraceServiceRequest.Parser.ParseFrom(bytes.Array, bytes.Offset, bytes.Count);

    private static (ExportTraceServiceRequest Request, int Made) Encode(params ConnectionSpan[] spans)
    {
        var encoder = new OtlpTraceEncoder(Clock, "tcpq", "1.2.3", "instance-1", "host-1", capacity: 64);
        int made = spans.Sum(encoder.Add);
        return (Decode(encoder.Request()), made);
    }

    private static List<Span> Spans(ExportTraceServiceRequest r) =>
        [.. r.ResourceSpans.SelectMany(rs => rs.ScopeSpans).SelectMany(ss => ss.Spans)];

    private static Dictionary<string, object> Attributes(IEnumerable<KeyValue> kvs) => kvs.ToDictionary(a => a.Key, a => a.Value.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => (object)a.Value.StringValue,
        AnyValue.ValueOneofCase.IntValue => a.Value.IntValue,
        var other => throw new InvalidOperationException($"{a.Key}: {other}"),
    });

    private static string Hex(ByteString b) => Convert.ToHexStringLower(b.ToByteArray());

    [Fact]
    public void A_connection_is_a_server_root_with_a_child_for_each_wait_at_the_kernels_times()
    {
        var span = new ConnectionSpan
        {
            Key = Key("10.0.0.5", 8080, "172.16.170.1", 50066),
            FirstSynNs = Scenario.Ms(0), EstablishedNs = Scenario.Ms(0.05), AcceptNs = Scenario.Ms(300.05),
            FirstReadNs = Scenario.Ms(300.1), FirstWriteNs = Scenario.Ms(302), EndNs = Scenario.Ms(303),
            Pid = 812, Comm = "nginx", Attempts = 1, Workload = new Workload("c0ffee", "uid-1", "web", "web-0", "shop", "nginx"),
        };
        span.Events.Add(new ConnectionSpanEvent("syn-cookie", Scenario.Ms(0.01)));
        span.Events.Add(new ConnectionSpanEvent("syn-drop", Scenario.Ms(0.02), "accept-queue-full", 1));
        var (request, made) = Encode(span);
        Assert.Equal(5, made);

        var rs = Assert.Single(request.ResourceSpans);
        var resource = Attributes(rs.Resource.Attributes);
        Assert.Equal(("tcpq", "1.2.3", "instance-1", "host-1"), (resource["service.name"], resource["service.version"], resource["service.instance.id"], resource["host.name"]));
        var scope = Assert.Single(rs.ScopeSpans);
        Assert.Equal(("tcpq", "1.2.3"), (scope.Scope.Name, scope.Scope.Version));
        Assert.Equal(5, scope.Spans.Count);

        var root = Assert.Single(scope.Spans, s => s.ParentSpanId.IsEmpty);
        Assert.Equal(("connection :8080", Span.Types.SpanKind.Server), (root.Name, root.Kind));
        Assert.Equal((At(0), At(303)), (root.StartTimeUnixNano, root.EndTimeUnixNano));
        Assert.Equal(Status.Types.StatusCode.Unset, root.Status?.Code ?? Status.Types.StatusCode.Unset);
        Assert.Equal((16, 8), (root.TraceId.Length, root.SpanId.Length));
        Assert.Equal(0x101u, root.Flags); // sampled; the parent (none) not remote
        var a = Attributes(root.Attributes);
        Assert.Equal(("10.0.0.5", 8080L, "172.16.170.1", 50066L), (a["server.address"], a["server.port"], a["client.address"], a["client.port"]));
        Assert.Equal(("ipv4", "tcp"), (a["network.type"], a["network.transport"]));
        Assert.Equal((812L, "nginx"), (a["process.pid"], a["process.executable.name"]));
        Assert.Equal(("c0ffee", "web-0", "shop", "web", "nginx"), (a["container.id"], a["k8s.pod.name"], a["k8s.namespace.name"], a["container.name"], a["k8s.container.name"]));
        Assert.Equal((4026531840L, 1L), (a["tcpq.netns"], a["tcpq.syn.attempts"]));
        Assert.False(a.ContainsKey("error.type"));

        Assert.Equal(["syn-cookie", "syn-drop"], root.Events.Select(e => e.Name));
        Assert.Equal(At(0.01), root.Events[0].TimeUnixNano);
        Assert.Empty(root.Events[0].Attributes);
        var drop = Attributes(root.Events[1].Attributes);
        Assert.Equal(("accept-queue-full", 1L), (drop["tcpq.reason"], drop["tcpq.attempt"]));

        var children = scope.Spans.Where(s => s != root).ToDictionary(s => s.Name);
        Assert.All(children.Values, c => Assert.Equal((root.TraceId, root.SpanId, Span.Types.SpanKind.Internal), (c.TraceId, c.ParentSpanId, c.Kind)));
        Assert.Equal(4, children.Values.Select(c => c.SpanId).Distinct().Count());
        Assert.Equal((At(0), At(0.05)), Times(children[OtlpTraceEncoder.Handshake]));
        Assert.Equal((At(0.05), At(300.05)), Times(children[OtlpTraceEncoder.AcceptQueueWait]));
        Assert.Equal((At(300.05), At(300.1)), Times(children[OtlpTraceEncoder.AcceptToFirstRead]));
        Assert.Equal((At(300.1), At(302)), Times(children[OtlpTraceEncoder.FirstReadToFirstWrite]));
    }

    private static (ulong, ulong) Times(Span s) => (s.StartTimeUnixNano, s.EndTimeUnixNano);

    [Fact]
    public void Waits_whose_ends_were_not_both_seen_make_no_child_and_an_abort_is_an_error()
    {
        var span = new ConnectionSpan
        {
            Key = Key("::1", 443, "::1", 40000), FirstSynNs = Scenario.Ms(0), EndNs = Scenario.Ms(3000),
            Aborted = true, AbortReason = "peer-reset", Attempts = 3, Unfinished = "expired", EventsLeftOut = 7,
            AcceptNs = Scenario.Ms(2), EstablishedNs = Scenario.Ms(5), // out of order: no queue wait
        };
        var (request, made) = Encode(span);
        Assert.Equal(2, made); // the root and its handshake
        var root = Assert.Single(Spans(request), s => s.ParentSpanId.IsEmpty);
        Assert.Equal((Status.Types.StatusCode.Error, "peer-reset"), (root.Status.Code, root.Status.Message));
        var a = Attributes(root.Attributes);
        Assert.Equal(("peer-reset", "ipv6", "::1", "expired", 7L, 3L), (a["error.type"], a["network.type"], a["server.address"], a["tcpq.unfinished"], a["tcpq.events.left_out"], a["tcpq.syn.attempts"]));
        Assert.False(a.ContainsKey("process.pid"));
        Assert.False(a.ContainsKey("process.executable.name"));
    }

    [Fact]
    public void The_source_may_choose_the_trace_id_and_otherwise_each_connection_gets_its_own()
    {
        var chosen = ActivityTraceId.CreateRandom();
        var span = new ConnectionSpan { Key = Key("10.0.0.5", 80, "10.0.0.6", 1234), TraceId = chosen, FirstSynNs = Scenario.Ms(0), EstablishedNs = Scenario.Ms(1), EndNs = Scenario.Ms(1) };
        var spans = Spans(Encode(span).Request);
        Assert.Equal(2, spans.Count);
        Assert.All(spans, s => Assert.Equal(chosen.ToHexString(), Hex(s.TraceId)));

        var encoder = new OtlpTraceEncoder(Clock, "tcpq", "1", "i", "h");
        span.TraceId = default;
        for (int i = 0; i < 2000; i++) encoder.Add(span);
        var all = Spans(Decode(encoder.Request()));
        Assert.Equal(4000, all.Count);
        Assert.Equal(2000, all.Select(s => s.TraceId).Distinct().Count());
        Assert.Equal(4000, all.Select(s => s.SpanId).Distinct().Count());
        Assert.DoesNotContain(all, s => s.TraceId.All(b => b == 0) || s.SpanId.All(b => b == 0));
    }

    [Fact]
    public void The_applications_requests_are_links_of_the_connection_span()
    {
        var span = new ConnectionSpan { Key = Key("10.0.0.5", 80, "10.0.0.6", 1234), FirstSynNs = Scenario.Ms(0), EndNs = Scenario.Ms(5) };
        span.AppRequests.Add(new AppRequestLink("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"));
        span.AppRequests.Add(new AppRequestLink("4BF92F3577B34DA6A3CE929D0E0E4736", "00F067AA0BA902B7")); // upper case, as some print them
        span.AppRequests.Add(new AppRequestLink("not-a-trace-id", "b7ad6b7169203331"));
        span.AppRequests.Add(new AppRequestLink("00000000000000000000000000000000", "b7ad6b7169203331"));
        span.AppRequests.Add(new AppRequestLink("0af7651916cd43dd8448eb211c80319c", "b7ad6b71692033")); // too short
        var root = Assert.Single(Spans(Encode(span).Request));
        Assert.Equal(["0af7651916cd43dd8448eb211c80319c b7ad6b7169203331", "4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7"],
            root.Links.Select(l => $"{Hex(l.TraceId)} {Hex(l.SpanId)}"));
        Assert.All(root.Links, l => Assert.NotEqual(root.TraceId, l.TraceId)); // the request's own trace, linked, not joined
    }

    [Fact]
    public void Requests_of_many_connections_with_long_and_non_ascii_text_decode_whole_and_the_encoder_starts_again_clean()
    {
        var encoder = new OtlpTraceEncoder(Clock, "tcpq", "1.2.3", "instance-1", "host-1", capacity: 64);
        string longComm = new('x', 300), unicode = "nginx ✓ ünïcödé"; // lengths of 2 bytes, and text of 2 and 3 bytes a character
        var workload = new Workload(new string('c', 64), "uid", "a-very-long-container-name-" + new string('n', 150), "pod", "ns", "web");
        for (int i = 0; i < 500; i++)
        {
            var span = new ConnectionSpan
            {
                Key = Key("10.0.0.5", 80, "10.0.0.6", (ushort)(1000 + i)), FirstSynNs = Scenario.Ms(i), EstablishedNs = Scenario.Ms(i + 0.1),
                AcceptNs = Scenario.Ms(i + 0.2), EndNs = Scenario.Ms(i + 0.3), Pid = 7, Comm = i % 2 == 0 ? longComm : unicode, Workload = workload,
            };
            for (int e = 0; e < i % 40; e++) span.Events.Add(new ConnectionSpanEvent("syn-retry", Scenario.Ms(i), "reason-" + new string('r', e * 5), (uint)e));
            encoder.Add(span);
        }
        Assert.Equal((500, 1500), (encoder.Connections, encoder.Spans));
        var first = Decode(encoder.Request());
        var roots = Spans(first).Where(s => s.ParentSpanId.IsEmpty).ToList();
        Assert.Equal(500, roots.Count);
        Assert.Equal(Enumerable.Range(1000, 500).Select(p => (long)p), roots.Select(r => (long)Attributes(r.Attributes)["client.port"]));
        Assert.Equal(longComm, Attributes(roots[0].Attributes)["process.executable.name"]);
        Assert.Equal(unicode, Attributes(roots[1].Attributes)["process.executable.name"]);
        Assert.Equal(workload.ContainerName, Attributes(roots[3].Attributes)["container.name"]);
        Assert.Equal(39, roots[39].Events.Count);
        Assert.Equal("reason-" + new string('r', 38 * 5), Attributes(roots[39].Events[38].Attributes)["tcpq.reason"]);

        encoder.Clear();
        Assert.Equal((0, 0), (encoder.Connections, encoder.Spans));
        encoder.Add(new ConnectionSpan { Key = Key("10.0.0.5", 81, "10.0.0.6", 9), FirstSynNs = Scenario.Ms(1), EndNs = Scenario.Ms(2) });
        var second = Decode(encoder.Request());
        var only = Assert.Single(Spans(second));
        Assert.Equal("connection :81", only.Name);
        Assert.Equal("tcpq", Attributes(Assert.Single(second.ResourceSpans).Resource.Attributes)["service.name"]);
    }

    [Fact]
    public void Encoding_allocates_nothing_once_the_buffer_has_grown()
    {
        var encoder = new OtlpTraceEncoder(Clock, "tcpq", "1.2.3", "instance-1", "host-1");
        var span = new ConnectionSpan
        {
            Key = Key("10.0.0.5", 80, "10.0.0.6", 1234), FirstSynNs = Scenario.Ms(0), EstablishedNs = Scenario.Ms(0.1),
            AcceptNs = Scenario.Ms(1), FirstReadNs = Scenario.Ms(1.1), FirstWriteNs = Scenario.Ms(2), EndNs = Scenario.Ms(3),
            Pid = 42, Comm = "connload", Attempts = 2, Workload = new Workload("c0ffee", null, "web"),
        };
        span.Events.Add(new ConnectionSpanEvent("syn-drop", Scenario.Ms(0), "accept-queue-full", 1));
        span.AppRequests.Add(new AppRequestLink("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"));
        void Round()
        {
            for (int i = 0; i < 1000; i++) encoder.Add(span);
            encoder.Request();
            encoder.Clear();
        }
        Round();
        Assert.Equal(0, SteadyAllocations.Fewest(() =>
        {
            for (int r = 0; r < 5; r++) Round();
        }));
    }

    internal static ConnectionKey Key(string server, ushort serverPort, string client, ushort clientPort)
    {
        var k = new TcpqEvent { SourcePort = clientPort, DestPort = serverPort, NetNs = 4026531840 };
        TestEvents.SetAddress(ref k.SourceAddress, client);
        TestEvents.SetAddress(ref k.DestAddress, server);
        return ConnectionKey.Of(k);
    }
}
