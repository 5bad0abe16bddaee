using System.Diagnostics;
using Tcpq.Aggregates;
using Tcpq.Bpf;
using Tcpq.Events;
using Tcpq.Serve;
using Tcpq.Spans;

namespace Tcpq.Tests;

/// <summary>serve's spans (--spans-slower-than) from counting mode's kernel records: one trace per
/// slow, dropped or retried connection, a continuation joined to its handshake's trace, the rate
/// cap, and the exemplars that name those traces.</summary>
public class ServeSpansTests
{
    private sealed class Recording : IConnectionSpanSink
    {
        public readonly List<(string TraceId, ulong FirstSyn, ulong Established, ulong Accept, ulong End, uint Pid, string? Comm, bool Aborted, string? Reason, List<ConnectionSpanEvent> Events)> Spans = [];

        public void Write(ConnectionSpan s) =>
            Spans.Add((s.TraceId.ToHexString(), s.FirstSynNs, s.EstablishedNs, s.AcceptNs, s.EndNs, s.Pid, s.Comm, s.Aborted, s.AbortReason, [.. s.Events]));
    }

    private const ulong Ms = 1_000_000;
    private static readonly WallClock Clock = new(new DateTime(2026, 12, 7, 12, 0, 0, DateTimeKind.Utc), 0);

    private static SpanRecord Record(SpanRecordKind kind, ushort clientPort, ulong firstSyn, ulong established, ulong end, uint drops = 0, uint retrans = 0)
    {
        var r = new SpanRecord
        {
            Kind = kind, FirstSynNs = firstSyn, EstablishedNs = established, EndNs = end,
            Client = Address16.FromV4([10, 0, 0, 2]), Local = Address16.FromV4([10, 0, 0, 1]), Listener = Address16.V4Any,
            NetNs = 4026531840, Slot = 1, ClientPort = clientPort, Port = 8080, SynDrops = drops, SynAckRetransmits = retrans,
        };
        if (kind == SpanRecordKind.Accepted)
        {
            r.Pid = 4242;
            r.Comm = Comm16.From("nginx");
        }
        return r;
    }

    private static readonly string Labels = PrometheusExposition.ListenerLabels(new ListenerKey(4026531840, Address16.V4Any, 8080));

    [Fact]
    public void A_client_that_never_got_in_is_a_failed_trace_from_its_first_dropped_syn_to_its_last()
    {
        var sink = new Recording();
        var spans = new SlowConnectionSpans(null, sink, 10, Clock);
        spans.Add(Record(SpanRecordKind.Dropped, 50002, firstSyn: 1000 * Ms, established: 0, end: 8000 * Ms, drops: 4));

        var s = Assert.Single(sink.Spans);
        Assert.Equal((1000 * Ms, 0ul, 0ul, 8000 * Ms), (s.FirstSyn, s.Established, s.Accept, s.End));
        Assert.Equal([("syn-drop", 1000 * Ms, 1u), ("syn-drop", 8000 * Ms, 4u)], s.Events.Select(e => (e.Name, e.AtNs, e.Attempt)));
        Assert.True(s.Aborted);
        Assert.Equal("syn-dropped", s.Reason);
        // no histogram had it: no exemplar
        Assert.False(spans.Exemplars.TryGet(ExemplarStore.SeriesKey("tcpq_handshake_duration_seconds", Labels), out _));

        // each read of the kernel's table finds it again: one trace all the same
        spans.Add(Record(SpanRecordKind.Dropped, 50002, firstSyn: 1000 * Ms, established: 0, end: 8000 * Ms, drops: 4));
        Assert.Single(sink.Spans);
        Assert.Equal(1, spans.Sent);

        // an earlier connection of the same 4-tuple got in after a drop: the client that later never
        // did is a trace of its own, not that one's continuation
        spans.Add(Record(SpanRecordKind.Established, 50004, firstSyn: 1000 * Ms, established: 2000 * Ms, end: 2000 * Ms, drops: 1));
        spans.Add(Record(SpanRecordKind.Dropped, 50004, firstSyn: 5000 * Ms, established: 0, end: 5000 * Ms, drops: 1));
        var (earlier, never) = (sink.Spans[^2], sink.Spans[^1]);
        Assert.NotEqual(earlier.TraceId, never.TraceId);
        Assert.Equal((5000 * Ms, true), (never.FirstSyn, never.Aborted));

        // one drop: one event
        spans.Add(Record(SpanRecordKind.Dropped, 50003, firstSyn: 1000 * Ms, established: 0, end: 1000 * Ms, drops: 1));
        Assert.Equal([("syn-drop", 1000 * Ms, 1u)], sink.Spans[^1].Events.Select(e => (e.Name, e.AtNs, e.Attempt)));
    }

    [Fact]
    public void A_dropped_client_becomes_a_trace_from_its_first_syn_with_its_drop_and_retry()
    {
        var sink = new Recording();
        var spans = new SlowConnectionSpans(null, sink, 10, Clock);
        spans.Add(Record(SpanRecordKind.Established, 50000, firstSyn: 1000 * Ms, established: 4000 * Ms, end: 4000 * Ms, drops: 2));

        var s = Assert.Single(sink.Spans);
        Assert.Equal((1000 * Ms, 4000 * Ms, 0ul, 4000 * Ms), (s.FirstSyn, s.Established, s.Accept, s.End));
        Assert.Equal([("syn-drop", 1000 * Ms, 1u), ("syn-retry", 4000 * Ms, 3u)], s.Events.Select(e => (e.Name, e.AtNs, e.Attempt)));
        Assert.False(s.Aborted);
        Assert.True(spans.Exemplars.TryGet(ExemplarStore.SeriesKey("tcpq_handshake_duration_seconds", Labels), out var e));
        Assert.Equal((s.TraceId, 3.0), (e.TraceId, e.Seconds));
        Assert.Equal((new DateTime(2026, 12, 7, 12, 0, 4, DateTimeKind.Utc) - DateTime.UnixEpoch).TotalSeconds, e.UnixSeconds, 3);
    }

    [Fact]
    public void Its_later_accept_continues_the_same_trace_and_passes_the_cap()
    {
        var sink = new Recording();
        var spans = new SlowConnectionSpans(null, sink, 1, Clock);
        spans.Add(Record(SpanRecordKind.Established, 50000, 1000 * Ms, 2000 * Ms, 2000 * Ms, drops: 1));
        spans.Add(Record(SpanRecordKind.Accepted, 50000, 0, 2000 * Ms, 2500 * Ms));

        Assert.Equal(2, sink.Spans.Count);
        var (first, second) = (sink.Spans[0], sink.Spans[1]);
        Assert.Equal(first.TraceId, second.TraceId);
        Assert.Equal((1000 * Ms, 2000 * Ms, 2500 * Ms, 4242u, "nginx"), (second.FirstSyn, second.Established, second.Accept, second.Pid, second.Comm));
        Assert.Empty(second.Events); // the drop is the first part's
        Assert.True(spans.Exemplars.TryGet(ExemplarStore.SeriesKey("tcpq_accept_queue_wait_seconds", Labels), out var wait));
        Assert.Equal((first.TraceId, 0.5), (wait.TraceId, wait.Seconds));
        Assert.True(spans.Exemplars.TryGet(ExemplarStore.SeriesKey("tcpq_syn_to_accept_seconds", Labels), out var total));
        Assert.Equal(1.5, total.Seconds);
        Assert.Equal((2L, 0L), (spans.Sent, spans.RateCapped));
    }

    [Fact]
    public void Over_the_rate_cap_a_slow_connection_is_counted_not_traced()
    {
        var sink = new Recording();
        var spans = new SlowConnectionSpans(null, sink, 2, Clock);
        for (ushort i = 0; i < 5; i++) spans.Add(Record(SpanRecordKind.Accepted, (ushort)(40000 + i), 0, 10 * Ms, 500 * Ms));
        Assert.Equal((2, 2L, 3L), (sink.Spans.Count, spans.Sent, spans.RateCapped));
        // a second later the bucket holds two again
        for (ushort i = 0; i < 3; i++) spans.Add(Record(SpanRecordKind.Accepted, (ushort)(41000 + i), 0, 10 * Ms, 1500 * Ms));
        Assert.Equal((4, 4L), (sink.Spans.Count, spans.RateCapped));
        Assert.Contains("tcpq_spans_dropped_total{reason=\"rate-cap\"} 4\n", SpanExposition.Write(spans));
        Assert.Contains("tcpq_spans_total 4\n", SpanExposition.Write(spans));
    }

    [Fact]
    public void An_abort_has_status_error_and_its_reason()
    {
        var sink = new Recording();
        var spans = new SlowConnectionSpans(null, sink, 10, Clock);
        var r = Record(SpanRecordKind.Aborted, 50001, 0, 100 * Ms, 900 * Ms);
        r.Abort = (ushort)KernelCounters.Counter.AbortReset;
        spans.Add(r);
        var s = Assert.Single(sink.Spans);
        Assert.True(s.Aborted);
        Assert.Equal("peer-reset", s.Reason);
        Assert.Equal(("reset", 900 * Ms), (s.Events.Single().Name, s.Events.Single().AtNs));
    }

    [Fact]
    public void The_kernels_record_is_laid_out_as_its_struct()
    {
        using var obj = new EmbeddedObjectBtf("count.bpf.o");
        obj.AssertSameLayout<SpanRecord>("tcpq_span_record", new()
        {
            ["first_syn_ns"] = "FirstSynNs", ["established_ns"] = "EstablishedNs", ["end_ns"] = "EndNs", ["client"] = "Client", ["local"] = "Local",
            ["listener"] = "Listener", ["netns"] = "NetNs", ["slot"] = "Slot", ["client_port"] = "ClientPort", ["port"] = "Port", ["kind"] = "Kind",
            ["pad"] = "Pad", ["abort"] = "Abort", ["syn_drops"] = "SynDrops", ["synack_retrans"] = "SynAckRetransmits", ["pid"] = "Pid", ["comm"] = "Comm",
        });
        // the table of dropped SYNs, read for the clients that gave up
        obj.AssertSameLayout<DroppedClientKey>("conn4", new() { ["saddr"] = "Client", ["daddr"] = "Local", ["netns"] = "NetNs", ["sport"] = "ClientPort", ["dport"] = "Port" });
        obj.AssertSameLayout<DroppedClient>("dropped_syn", new() { ["first_ns"] = "FirstNs", ["attempts"] = "Attempts", ["pad"] = "Pad", ["last_ns"] = "LastNs" });
        var kinds = obj.Btf.EnumValues("tcpq_span_kind");
        Assert.NotNull(kinds);
        Assert.Equal(Enum.GetValues<SpanRecordKind>().ToDictionary(k => (uint)k, k => "TCPQ_SPAN_" + k.ToString().ToUpperInvariant()).OrderBy(k => k.Key), kinds.OrderBy(k => k.Key));
    }

    [Theory]
    [InlineData("--spans-slower-than", "fast", "bad --spans-slower-than")]
    [InlineData("--spans-slower-than", "0ms", "bad --spans-slower-than")]
    [InlineData("--spans-slower-than", "200", "bad --spans-slower-than")]
    [InlineData("--spans-slower-than", "200ms", "--spans-slower-than needs --otlp-endpoint")]
    [InlineData("--spans-max-rate", "10", "--spans-max-rate needs --spans-slower-than")]
    public void A_bad_spans_flag_is_one_line_and_a_usage_error(string flag, string value, string message)
    {
        var console = new TestConsole();
        int code = TcpqProgram.Run(["serve", flag, value], console.Console);
        Assert.Equal((int)ExitCode.Usage, code);
        Assert.Contains(message, Assert.Single(console.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Theory]
    [InlineData("--source", "events")]
    [InlineData("--backend", "diag")]
    public void Spans_come_from_counting_modes_kernel_side_only(string flag, string value)
    {
        var console = new TestConsole();
        int code = TcpqProgram.Run(["serve", "--spans-slower-than", "1s", "--otlp-endpoint", "http://127.0.0.1:4318", flag, value], console.Console);
        Assert.Equal((int)ExitCode.Usage, code);
        Assert.Contains("--spans-slower-than needs --backend ebpf --source kernel", console.Error);
    }

    [Theory]
    [InlineData("200ms", 200)]
    [InlineData("1.5s", 1500)]
    [InlineData("1500us", 1.5)]
    public void The_threshold_reads_as_a_duration(string text, double ms) =>
        Assert.Equal(ms, ServeOptionsOf(text).TotalMilliseconds, 6);

    private static TimeSpan ServeOptionsOf(string text) => Commands.ServeOptions.ParseSpansSlowerThan(text)!.Value;

    [Fact]
    public void The_rate_cap_refills_at_its_rate_up_to_one_seconds_burst()
    {
        var cap = new SpanRateCap(10);
        int taken = Enumerable.Range(0, 30).Count(_ => cap.TryTake(0));
        Assert.Equal((10, 20L), (taken, cap.Refused));
        Assert.True(cap.TryTake(100 * (long)Ms)); // 100 ms: one more
        Assert.False(cap.TryTake(100 * (long)Ms));
        Assert.Equal(10, Enumerable.Range(0, 30).Count(_ => cap.TryTake(60_000 * (long)Ms))); // never more than the burst
    }
}
