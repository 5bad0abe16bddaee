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
}
