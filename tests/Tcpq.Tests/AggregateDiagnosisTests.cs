using Tcpq.Aggregates;
using Tcpq.Connections.Diagnosis;
using Tcpq.Events;

namespace Tcpq.Tests;

/// <summary>The diagnosis from aggregates alone (the kernel's, for top): the same rules on a
/// PortSummary built from counters.</summary>
public class AggregateDiagnosisTests
{
    private static readonly DiagnosisContext Context = new(4096, 2048, 5);

    private static ListenerAggregate Listener(Action<ListenerAggregate> fill)
    {
        var a = new ListenerAggregate(new ListenerKey(4026531840, Address16.FromV4([127, 0, 0, 1]), 2000));
        fill(a);
        return a;
    }

    [Fact]
    public void Drops_at_a_full_accept_queue_fire_backlog_too_small_with_the_counts()
    {
        var a = Listener(a =>
        {
            a.Syns = 120; a.SynRetries = 20; a.Handshakes = 100; a.Accepts = 100; a.QMax = 8; a.PeakQ = 9;
            a.SynDrops[DropReasons.AcceptQueueFull] = 20;
            a.AckDrops[DropReasons.CookieAckOverflow] = 5;
            for (int i = 0; i < 100; i++) a.QueueWait.RecordNs(2_000_000);
        });
        var port = AggregatePortSummary.Build(a, DropReasons.Empty, 10, queueFullShare: 0.5);
        Assert.Equal((100L, 20L, 25L, 5L), (port.Connections, port.Retries, port.AcceptQueueDrops, port.AckDrops));
        Assert.Equal(5, port.Drops["cookie-ack-overflow"]);
        Assert.Equal(2048, port.QueueWait.P99); // the upper bound of 2 ms's power-of-two bucket, in µs
        var findings = Rulebook.Diagnose([port], Context);
        Assert.Equal("backlog-too-small", findings[0].Rule);
        Assert.Contains("20 SYNs and 5 final ACKs were dropped", findings[0].Text);
    }

    [Fact]
    public void A_quiet_listener_is_ok()
    {
        var a = Listener(a => { a.Syns = 50; a.Handshakes = 50; a.Accepts = 50; a.QMax = 128; });
        var findings = Rulebook.Diagnose([AggregatePortSummary.Build(a, DropReasons.Empty, 10, 0)], Context);
        Assert.Equal("ok", Assert.Single(findings).Rule);
    }

    [Fact]
    public void With_the_app_behind_the_listener_top_names_a_starved_thread_pool_first()
    {
        var a = Listener(a =>
        {
            a.Syns = 100; a.Handshakes = 100; a.Accepts = 100; a.QMax = 512; a.PeakQ = 40;
            for (int i = 0; i < 100; i++) a.QueueWait.RecordNs(700_000_000); // 0.7 s in the accept queue
        });
        var none = new Tcpq.Connections.LatencyHistogram().Summary();
        var starved = new Tcpq.Connections.AppSummary(812, "web", 0, 0, 0, 0, none, none,
            PoolSamples: 7, BacklogSamples: 7, FirstQueue: 0, PeakQueue: 42, LastQueue: 40, MinThreads: 2, MaxThreads: 10,
            StarvationAdjustments: 0, BlockingAdjustments: 0, GcPauses: 0, GcPauseTotalUs: 0, GcPauseMaxUs: 0, LongWaits: 0, LongWaitsInGc: 0, LongestGcWithinWaitUs: 0);
        var snapshot = new AggregateSnapshot(DateTime.UtcNow, 1, [a], null, new AggregateCost(0, 0, null, 0));
        var without = new Tcpq.Top.AggregateDiagnosis(DropReasons.Empty, Context);
        without.Observe(snapshot);
        Assert.Equal("slow-accept", without.TopFindings()[a.Key].Rule);
        // the app in the snapshot: in the listener's namespace, listening on its port
        var app = new AppReading(812, "web", 10, 40, 7, 0, 0, 0, 0, 0) { NetNs = a.Key.NetNs, ListeningPorts = new HashSet<ushort> { a.Key.Port }, Summary = starved };
        var elsewhere = app with { NetNs = a.Key.NetNs + 1 };
        var with = new Tcpq.Top.AggregateDiagnosis(DropReasons.Empty, Context);
        with.Observe(snapshot with { Apps = [elsewhere] });
        Assert.Equal("slow-accept", with.TopFindings()[a.Key].Rule); // the same port in another namespace is another listener
        with.Observe(snapshot with { Apps = [app] });
        var f = with.TopFindings()[a.Key];
        Assert.Equal(("thread-pool-starvation", Tcpq.Connections.Severity.Critical), (f.Rule, f.Severity));
        Assert.StartsWith("the thread pool of web[812] was starved: its queue of work items held 16 or more for 7 s (peak 42, from 0) with only 2→10 threads", f.Text);
    }
}
