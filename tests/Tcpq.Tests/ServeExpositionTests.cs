using Tcpq.Bpf;
using System.Text.RegularExpressions;
using Tcpq.Aggregates;
using Tcpq.Events;
using Tcpq.Serve;

namespace Tcpq.Tests;

/// <summary>The Prometheus text that <c>tcpq serve</c> writes: names and units as Prometheus
/// wants them, cumulative buckets with exact sums, escaped labels, bounded series.</summary>
public class ServeExpositionTests
{
    private static readonly DropReasons Reasons = new(new Dictionary<uint, string> { [7] = "SKB_DROP_REASON_TCP_LISTEN_OVERFLOW" });

    private static ListenerAggregate Listener(string address, ushort port, uint netns = 4026531840)
    {
        var e = TestEvents.Syn();
        TestEvents.SetAddress(ref e.DestAddress, address);
        return new ListenerAggregate(new ListenerKey(netns, e.DestAddress, port));
    }

    private static AggregateSnapshot Snapshot(IReadOnlyList<ListenerAggregate> listeners, ListenerAggregate? other = null, TimeSpan? runTime = null) =>
        new(DateTime.UtcNow, 1, listeners, other, new AggregateCost(3, other is null ? 0 : 5, runTime, runTime is null ? 0 : 42));

    private static string Exposition(params ListenerAggregate[] listeners) =>
        PrometheusExposition.Write(Snapshot(listeners), Reasons, "ebpf");

    private static List<string> Samples(string text, string name) =>
        [.. text.Split('\n').Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal))];

    [Fact]
    public void A_joined_dotnet_process_has_its_pool_gc_and_refusals_labelled_by_pid_and_comm()
    {
        var apps = new List<AppReading>
        {
            new(812, "web", Threads: 6, QueuedWorkItems: 42, PoolSamples: 10, StarvationInjections: 3, BlockingInjections: 2, GcPauses: 7, GcPauseSeconds: 0.0125, KestrelRejected: 9),
            new(900, "odd\"name", 0, 0, PoolSamples: 0, 0, 0, 0, 0, 0), // no pool sample yet: no gauges, counters at 0
        };
        var text = PrometheusExposition.Write(Snapshot([Listener("10.0.0.5", 2000)]) with { Apps = apps }, Reasons, "ebpf");
        Assert.Contains("# TYPE tcpq_dotnet_threadpool_threads gauge\n", text);
        Assert.Equal(["tcpq_dotnet_threadpool_threads{pid=\"812\",comm=\"web\"} 6"], Samples(text, "tcpq_dotnet_threadpool_threads"));
        Assert.Equal(["tcpq_dotnet_threadpool_queued_work_items{pid=\"812\",comm=\"web\"} 42"], Samples(text, "tcpq_dotnet_threadpool_queued_work_items"));
        Assert.Contains("tcpq_dotnet_threadpool_injections_total{pid=\"812\",comm=\"web\",reason=\"starvation\"} 3", text);
        Assert.Contains("tcpq_dotnet_threadpool_injections_total{pid=\"812\",comm=\"web\",reason=\"cooperative-blocking\"} 2", text);
        Assert.Contains("tcpq_dotnet_gc_pauses_total{pid=\"812\",comm=\"web\"} 7", text);
        Assert.Contains("tcpq_dotnet_gc_pause_seconds_total{pid=\"812\",comm=\"web\"} 0.0125", text);
        Assert.Contains("tcpq_dotnet_kestrel_rejected_connections_total{pid=\"812\",comm=\"web\"} 9", text);
        Assert.Contains("tcpq_dotnet_kestrel_rejected_connections_total{pid=\"900\",comm=\"odd\\\"name\"} 0", text);
        Assert.DoesNotContain("tcpq_dotnet", PrometheusExposition.Write(Snapshot([Listener("10.0.0.5", 2000)]), Reasons, "ebpf")); // --dotnet off, or nothing joined
    }

    [Fact]
    public void Every_family_has_help_and_type_and_follows_prometheus_naming()
    {
        var a = Listener("10.0.0.5", 2000);
        a.Syns = 3; a.QueueWait.RecordNs(5_000); a.Handshake.RecordNs(70_000);
        a.SynDrops[DropReasons.AcceptQueueFull] = 1;
        a.Aborts[DropReasons.PeerReset] = 1;
        var text = PrometheusExposition.Write(Snapshot([a], runTime: TimeSpan.FromMilliseconds(1.5)), Reasons, "ebpf");

        var types = Regex.Matches(text, @"^# TYPE (\S+) (\S+)$", RegexOptions.Multiline).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        foreach (var (name, type) in types)
        {
            Assert.Matches("^tcpq_[a-z0-9_]+$", name);
            Assert.Contains($"# HELP {name} ", text);
            if (type == "counter") Assert.EndsWith("_total", name);
            if (type == "histogram") Assert.EndsWith("_seconds", name);
            if (type != "counter") Assert.DoesNotContain("_total", name);
        }
        Assert.Equal("counter", types["tcpq_accepts_total"]);
        Assert.Equal("counter", types["tcpq_listen_drops_total"]);
        Assert.Equal("gauge", types["tcpq_accept_queue_length"]);
        Assert.Equal("gauge", types["tcpq_accept_queue_limit"]);
        Assert.Equal("histogram", types["tcpq_accept_queue_wait_seconds"]);
        Assert.Equal("counter", types["tcpq_overhead_program_seconds_total"]);
        Assert.Equal("counter", types["tcpq_events_lost_total"]);
        // samples of a family are contiguous, right after its TYPE line
        var names = text.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => Regex.Match(l, "^[a-z0-9_]+").Value)
            .Select(n => Regex.Replace(n, "_(bucket|sum|count)$", "")).ToList();
        var seen = new HashSet<string>();
        for (int i = 0; i < names.Count; i++)
            if (i == 0 || names[i] != names[i - 1]) Assert.True(seen.Add(names[i]), $"{names[i]} is split");
    }

    [Fact]
    public void A_listener_is_labelled_with_the_opentelemetry_attribute_names()
    {
        var v4 = Listener("10.0.0.5", 2000);
        var v6 = Listener("2001:db8::1", 443, netns: 4026532000);
        v4.Accepts = 7; v6.Accepts = 2;
        var text = Exposition(v4, v6);
        Assert.Contains("tcpq_accepts_total{server_address=\"10.0.0.5\",server_port=\"2000\",network_type=\"ipv4\",netns=\"4026531840\"} 7\n", text);
        Assert.Contains("tcpq_accepts_total{server_address=\"2001:db8::1\",server_port=\"443\",network_type=\"ipv6\",netns=\"4026532000\"} 2\n", text);
    }

    [Fact]
    public void Drops_carry_the_segment_and_the_reason_by_name()
    {
        var a = Listener("127.0.0.1", 80);
        a.SynDrops[DropReasons.AcceptQueueFull] = 4;
        a.AckDrops[7] = 2;
        a.Aborts[DropReasons.PeerReset] = 1;
        var text = Exposition(a);
        var drops = Samples(text, "tcpq_listen_drops_total");
        Assert.Equal(2, drops.Count);
        Assert.Contains(drops, d => d.Contains("segment=\"syn\",reason=\"accept-queue-full\"} 4"));
        Assert.Contains(drops, d => d.Contains("segment=\"ack\",reason=\"TCP_LISTEN_OVERFLOW\"} 2"));
        Assert.Contains("reason=\"peer-reset\"} 1", Assert.Single(Samples(text, "tcpq_aborts_total")));
    }

    [Fact]
    public void Buckets_are_cumulative_in_seconds_and_the_sum_is_exact()
    {
        var a = Listener("127.0.0.1", 80);
        ulong[] ns = [500, 6_000, 6_000, 100_000, 1_500_000_000, 40_000_000_000];
        foreach (var v in ns) a.QueueWait.RecordNs(v);
        var text = Exposition(a);
        var buckets = Samples(text, "tcpq_accept_queue_wait_seconds_bucket")
            .Select(l => (Le: Regex.Match(l, "le=\"([^\"]+)\"").Groups[1].Value, Count: long.Parse(l[(l.LastIndexOf(' ') + 1)..]))).ToList();
        Assert.Equal(ListenerMetrics.BucketBounds.Length + 1, buckets.Count);
        Assert.Equal(("0.000008", 3L), buckets[0]);            // 0.5 µs, 6 µs, 6 µs
        Assert.Equal(("0.000128", 4L), buckets[2]);            // + 100 µs
        Assert.Equal(("2.097152", 5L), buckets.Single(b => b.Le == "2.097152")); // + 1.5 s
        Assert.Equal(("33.554432", 5L), buckets[^2]);
        Assert.Equal(("+Inf", 6L), buckets[^1]);                // + 40 s
        for (int i = 1; i < buckets.Count; i++) Assert.True(buckets[i].Count >= buckets[i - 1].Count);
        var le = buckets.Take(buckets.Count - 1).Select(b => double.Parse(b.Le, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(le.Order(), le);
        Assert.Equal("tcpq_accept_queue_wait_seconds_sum{server_address=\"127.0.0.1\",server_port=\"80\",network_type=\"ipv4\",netns=\"4026531840\"} 41.5001125",
            Assert.Single(Samples(text, "tcpq_accept_queue_wait_seconds_sum")));
        Assert.EndsWith("} 6", Assert.Single(Samples(text, "tcpq_accept_queue_wait_seconds_count")));
    }

    [Fact]
    public void A_histogram_the_source_never_fills_is_left_out()
    {
        var a = Listener("127.0.0.1", 80);
        a.QueueWait.RecordNs(1000);
        var text = Exposition(a);
        Assert.Contains("tcpq_accept_queue_wait_seconds_count", text);
        Assert.DoesNotContain("tcpq_syn_to_accept_seconds", text);
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a\"b", "a\\\"b")]
    [InlineData("a\\b", "a\\\\b")]
    [InlineData("a\nb", "a\\nb")]
    [InlineData("\\\"\n", "\\\\\\\"\\n")]
    public void Label_values_are_escaped(string value, string escaped) =>
        Assert.Equal(escaped, PrometheusExposition.EscapeLabel(value));

    [Fact]
    public void A_reason_name_with_quotes_is_escaped_in_the_exposition()
    {
        var a = Listener("127.0.0.1", 80);
        a.AckDrops[9] = 1;
        var text = PrometheusExposition.Write(Snapshot([a]), new DropReasons(new Dictionary<uint, string> { [9] = "ODD\"NAME\\" }), "ebpf");
        Assert.Contains("reason=\"ODD\\\"NAME\\\\\"} 1", text);
    }

    [Fact]
    public void Listeners_past_the_limit_are_one_series_and_counted()
    {
        var other = new ListenerAggregate(default) { Accepts = 9 };
        var text = PrometheusExposition.Write(Snapshot([Listener("127.0.0.1", 80)], other), Reasons, "ebpf");
        Assert.Contains("tcpq_accepts_total{server_address=\"other\"} 9\n", text);
        Assert.Contains("tcpq_listeners_overflowed_total 5\n", text);
        Assert.Contains("tcpq_listeners 2\n", text);
    }

    [Fact]
    public void Its_own_cost_is_exported_and_run_time_only_when_the_kernel_measures_it()
    {
        var measured = PrometheusExposition.Write(Snapshot([], runTime: TimeSpan.FromMilliseconds(1.5)), Reasons, "ebpf");
        Assert.Contains("tcpq_overhead_program_seconds_total 0.0015\n", measured);
        Assert.Contains("tcpq_overhead_program_runs_total 42\n", measured);
        Assert.Contains("tcpq_events_lost_total 3\n", measured);
        Assert.Matches("tcpq_info\\{backend=\"ebpf\",version=\"[0-9.]+\"\\} 1\n", measured);
        var unmeasured = PrometheusExposition.Write(Snapshot([]), Reasons, "diag");
        Assert.DoesNotContain("tcpq_overhead_program", unmeasured);
    }

    [Fact]
    public void Coarse_buckets_are_exact_sums_of_the_power_of_two_buckets()
    {
        var h = new Log2Histogram();
        for (ulong us = 1; us < 100_000_000; us = us * 3 + 1) h.RecordNs(us * 1000);
        var cumulative = ListenerMetrics.Cumulative(h);
        for (int i = 0; i < ListenerMetrics.BucketBounds.Length; i++)
        {
            double bound = ListenerMetrics.BoundSeconds(ListenerMetrics.BucketBounds[i]) * 1e9;
            long expected = 0;
            for (ulong us = 1; us < 100_000_000; us = us * 3 + 1) if (us * 1000 < bound) expected++;
            Assert.Equal(expected, cumulative[i]);
        }
        Assert.Equal(h.Count, cumulative[^1]);
    }

    [Fact]
    public void Program_run_time_is_read_from_fdinfo()
    {
        const string fdinfo = "pos:\t0\nflags:\t02000002\nprog_type:\t8\nprog_jited:\t1\nrun_time_ns:\t123456\nrun_cnt:\t789\nrecursion_misses:\t0\n";
        Assert.Equal((123456L, 789L), BpfProgramStats.Parse(fdinfo));
        Assert.Equal((0L, 0L), BpfProgramStats.Parse("pos:\t0\n"));
    }

    [Fact]
    public void A_copy_of_an_aggregate_does_not_move_with_the_original()
    {
        var a = Listener("127.0.0.1", 80);
        a.Accepts = 1; a.SynDrops[1] = 1; a.QueueWait.RecordNs(2000);
        var c = EventStreamAggregateSource.Copy(a);
        a.Accepts++; a.SynDrops[1]++; a.QueueWait.RecordNs(2000);
        Assert.Equal(1, c.Accepts);
        Assert.Equal(1, c.SynDrops[1]);
        Assert.Equal(1, c.QueueWait.Count);
        Assert.Equal(2000UL, c.QueueWait.SumNs);
    }
}
