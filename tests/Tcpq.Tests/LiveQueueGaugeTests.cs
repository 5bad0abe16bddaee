using Tcpq.Aggregates;
using Tcpq.Diag;
using Tcpq.Events;
using Tcpq.Serve;
using static Tcpq.Tests.DiagFixtures;

namespace Tcpq.Tests;

/// <summary>Gauges say now: the queues of a listener as sock_diag reads them at the scrape, matched
/// to the keys an event stream makes; a gauge with no value of now is left out, never stale.</summary>
public class LiveQueueGaugeTests
{
    private static ListenerKey Key(string address, ushort port, uint netns = 7) => new(netns, Addr(address), port);

    [Fact]
    public void An_events_key_finds_its_wildcard_listener_and_a_reuseport_group_is_summed()
    {
        List<DiagSocket> dump =
        [
            Socket(TcpState.Listen, "0.0.0.0", 8080, q: 2, qmax: 4),
            Socket(TcpState.Listen, "0.0.0.0", 8080, q: 1, qmax: 4), // SO_REUSEPORT: the same endpoint
            Socket(TcpState.SynRecv, "127.0.0.1", 8080, "127.0.0.1", 40000),
            Socket(TcpState.Listen, "::", 8443, q: 0, qmax: 128), // dual-stack
            Socket(TcpState.Listen, "10.0.0.1", 9000, q: 5, qmax: 5),
        ];
        var found = new Dictionary<ListenerKey, LiveListenerQueues.Queues>();
        LiveListenerQueues.Match(dump, [Key("127.0.0.1", 8080), Key("::ffff:127.0.0.1", 8443), Key("10.0.0.1", 9000), Key("127.0.0.1", 9999)], found);

        Assert.Equal(new LiveListenerQueues.Queues(Q0: 1, Q: 3, QMax: 8), found[Key("127.0.0.1", 8080)]);
        Assert.Equal(new LiveListenerQueues.Queues(0, 0, 128), found[Key("::ffff:127.0.0.1", 8443)]);
        Assert.Equal(new LiveListenerQueues.Queues(0, 5, 5), found[Key("10.0.0.1", 9000)]);
        Assert.False(found.ContainsKey(Key("127.0.0.1", 9999))); // closed: no value of now
    }

    private static List<string> Samples(string text, string name) =>
        [.. text.Split('\n').Where(l => l.StartsWith(name + "{", StringComparison.Ordinal))];

    [Fact]
    public void A_listener_whose_queues_were_not_read_now_has_no_queue_gauges_but_keeps_its_peak()
    {
        var open = new ListenerAggregate(Key("127.0.0.1", 8080)) { Q = 2, QMax = 4, Q0 = 1, PeakQ = 3 };
        var closed = new ListenerAggregate(Key("127.0.0.1", 8081)) { Q = 2, QMax = 4, Q0 = 1, PeakQ = 5 }; // as of its last event
        var snapshot = new AggregateSnapshot(DateTime.UtcNow, 1, [open, closed], null, new AggregateCost(0, 0, null, 0))
        {
            QueuesReadNow = new HashSet<ListenerKey> { open.Key },
        };
        var text = PrometheusExposition.Write(snapshot, DropReasons.Empty, "ebpf-events");

        foreach (var gauge in new[] { "tcpq_accept_queue_length", "tcpq_accept_queue_limit", "tcpq_syn_queue_length" })
        {
            var samples = Samples(text, gauge);
            Assert.Single(samples);
            Assert.Contains("server_port=\"8080\"", samples[0]);
        }
        Assert.Equal(2, Samples(text, "tcpq_accept_queue_peak_length").Count);
        Assert.Contains(Samples(text, "tcpq_accept_queue_peak_length"), l => l.Contains("server_port=\"8081\"") && l.EndsWith(" 5"));
    }

    [Fact]
    public void Other_has_counters_but_no_queue_gauges_and_no_limit_of_zero()
    {
        var listener = new ListenerAggregate(Key("127.0.0.1", 80)) { QMax = 511 };
        var other = new ListenerAggregate(default) { Accepts = 77, Handshakes = 77 }; // many queues merged: none known
        var text = PrometheusExposition.Write(new AggregateSnapshot(DateTime.UtcNow, 1, [listener], other, new AggregateCost(0, 77, null, 0)),
            DropReasons.Empty, "ebpf");

        Assert.Contains("tcpq_accepts_total{server_address=\"other\"} 77\n", text);
        foreach (var gauge in ListenerMetrics.Gauges)
            Assert.DoesNotContain(Samples(text, gauge.Prometheus), l => l.Contains("server_address=\"other\""));
        Assert.Single(Samples(text, "tcpq_accept_queue_limit"), l => l.EndsWith(" 511"));
    }

    [Fact]
    public void Counting_mode_reads_every_queue_now_so_every_listener_has_its_gauges()
    {
        var a = new ListenerAggregate(Key("127.0.0.1", 80)) { Q = 1, QMax = 8 };
        var text = PrometheusExposition.Write(new AggregateSnapshot(DateTime.UtcNow, 1, [a], null, new AggregateCost(0, 0, null, 0)), DropReasons.Empty, "ebpf");
        Assert.Single(Samples(text, "tcpq_accept_queue_length"), l => l.EndsWith(" 1"));
    }
}
