using Tcpq.Connections.Diagnosis;
using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Tests;

/// <summary>Each rule on a scenario that triggers it and on one that does not.</summary>
public class DiagnosisTests
{
    private static List<Finding> Diagnose(Scenario s) => [.. s.Summarize().Findings];

    private static Scenario Healthy()
    {
        var s = new Scenario();
        for (int i = 0; i < 20; i++) s.Quick("10.0.1.1", (ushort)(30000 + i), i * 10);
        return s;
    }

    /// <summary>Backlog 2: a burst of 6 clients; two fit, the others' SYNs are dropped until
    /// the application accepts a second later.</summary>
    private static Scenario Burst()
    {
        var s = new Scenario();
        for (ushort i = 0; i < 2; i++)
            s.Syn("10.0.2.1", (ushort)(40000 + i), i, 1, (0, i, 2)).Established("10.0.2.1", (ushort)(40000 + i), i + 0.2, i, 1, (1, i, 2))
             .Accept("10.0.2.1", (ushort)(40000 + i), 1000 + i, i + 0.2);
        for (ushort i = 2; i < 6; i++)
        {
            ushort p = (ushort)(40000 + i);
            s.Syn("10.0.2.1", p, i, 1, (0, 3, 2)).SynDrop("10.0.2.1", p, i + 0.01, 1, (0, 3, 2))
             .Syn("10.0.2.1", p, 1000 + i + 5, 2, (0, 0, 2), firstMs: i)
             .Established("10.0.2.1", p, 1000 + i + 5.2, i, 2, (1, 0, 2))
             .Accept("10.0.2.1", p, 1000 + i + 6, 1000 + i + 5.2);
        }
        return s;
    }

    [Fact]
    public void Where_nothing_is_wrong_it_says_so()
    {
        var f = Assert.Single(Diagnose(Healthy()));
        Assert.Equal(("ok", Severity.Ok), (f.Rule, f.Severity));
        Assert.StartsWith("nothing wrong on :2000: 20 connections, 20 accepted", f.Text);
    }

    [Fact]
    public void Backlog_too_small_fires_on_accept_queue_drops_with_the_numbers_and_what_to_change()
    {
        var f = Assert.Single(Diagnose(Burst()), x => x.Rule == "backlog-too-small");
        Assert.Equal(Severity.Critical, f.Severity);
        Assert.Matches(@"^the accept queue of :2000 \(Qmax 2\) was full \d+ % of the time and 4 SYNs were dropped; clients waited up to 1\.0\d s\. " +
                       @"Raise the listen\(\) backlog \(the kernel caps it at net\.core\.somaxconn = 4096 here\) or accept faster: [\d.]+ accepts/s against [\d.]+ arrivals/s\.$", f.Text);
        Assert.DoesNotContain(Diagnose(Healthy()), x => x.Rule == "backlog-too-small");
    }

    [Fact]
    public void Slow_accept_fires_when_connections_wait_long_in_the_queue()
    {
        var s = new Scenario();
        for (int i = 0; i < 10; i++) s.Quick("10.0.3.1", (ushort)(30000 + i), i * 10, queueMs: 400);
        var f = Assert.Single(Diagnose(s), x => x.Rule == "slow-accept");
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.Contains("p90 400 ms", f.Text);
        Assert.Contains("accept in a loop until EAGAIN", f.Text);
        Assert.DoesNotContain(Diagnose(Healthy()), x => x.Rule == "slow-accept");
    }

    [Fact]
    public void SYN_queue_pressure_fires_on_cookies_or_SYN_queue_drops()
    {
        var cookies = Healthy().Cookie("10.0.1.1", 30000, 0.01);
        var f = Assert.Single(Diagnose(cookies), x => x.Rule == "syn-queue-pressure");
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.Contains("1 answered with SYN cookies", f.Text);
        Assert.Contains("net.ipv4.tcp_max_syn_backlog (now 1024 here)", f.Text);

        var drops = Healthy().Syn("10.0.4.1", 5, 1, 1, (1024, 0, 1024)).SynDrop("10.0.4.1", 5, 1.01, 1, (1024, 0, 1024), DropReasons.SynQueueFull);
        Assert.Equal(Severity.Critical, Assert.Single(Diagnose(drops), x => x.Rule == "syn-queue-pressure").Severity);
        Assert.DoesNotContain(Diagnose(Healthy()), x => x.Rule == "syn-queue-pressure");
    }

    [Fact]
    public void Clients_gave_up_fires_on_aborts_before_accept()
    {
        var s = Healthy().Syn("10.0.5.1", 6, 300, 1, (0, 0, 128)).Established("10.0.5.1", 6, 300.2, 300, 1, (1, 0, 128)).Abort("10.0.5.1", 6, 5300, 300.2);
        var f = Assert.Single(Diagnose(s), x => x.Rule == "clients-gave-up");
        Assert.StartsWith("1 of 21 clients of :2000 gave up before accept() (1 peer-reset), after waiting up to 5.00 s", f.Text);
        Assert.DoesNotContain(Diagnose(Healthy()), x => x.Rule == "clients-gave-up");
    }

    [Fact]
    public void Clients_that_close_at_once_from_a_roomy_queue_are_probes_not_clients_that_gave_up()
    {
        // a health check: connect, close 50 µs later, the queue never past 1 of 128
        var s = Healthy().Syn("10.0.5.2", 8, 300, 1, (0, 0, 128)).Established("10.0.5.2", 8, 300.02, 300, 1, (1, 0, 128)).Abort("10.0.5.2", 8, 300.07, 300.02);
        var f = Assert.Single(Diagnose(s), x => x.Rule == "clients-gave-up");
        Assert.Equal(Severity.Info, f.Severity);
        Assert.Contains("clients that connect and close at once (health checks, port probes), not clients that timed out", f.Text);
        // the same close 2 s later is a client that gave up
        var late = Healthy().Syn("10.0.5.3", 9, 300, 1, (0, 0, 128)).Established("10.0.5.3", 9, 300.02, 300, 1, (1, 0, 128)).Abort("10.0.5.3", 9, 2300.02, 300.02);
        var gaveUp = Assert.Single(Diagnose(late), x => x.Rule == "clients-gave-up");
        Assert.True(gaveUp.Severity >= Severity.Warning, $"{gaveUp.Severity}: {gaveUp.Text}");
        Assert.Contains("gave up before accept()", gaveUp.Text);
    }

    [Fact]
    public void SYN_ACK_retransmits_fire_and_name_the_cause()
    {
        var s = Healthy().Syn("10.0.6.1", 7, 300, 1, (0, 0, 128)).SynAckRetrans("10.0.6.1", 7, 1300, 1, 300)
            .Established("10.0.6.1", 7, 1310, 300, 1, (1, 0, 128)).Accept("10.0.6.1", 7, 1311, 1310);
        var f = Assert.Single(Diagnose(s), x => x.Rule == "synack-retransmits");
        Assert.Contains("1 SYN-ACK was retransmitted on :2000", f.Text);
        Assert.Contains("check the path for packet loss", f.Text);
        Assert.Contains("tcp_synack_retries = 5", f.Text);
        Assert.DoesNotContain(Diagnose(Healthy()), x => x.Rule == "synack-retransmits");
    }

    [Fact]
    public void SYN_ACK_retransmits_after_final_ACKs_dropped_at_a_full_queue_blame_the_queue()
    {
        var s = Healthy().Syn("10.0.6.2", 9, 300, 1, (0, 0, 128)).SynAckRetrans("10.0.6.2", 9, 1300, 1, 300);
        var ack = s.Make(EventKind.AckDrop, "10.0.6.2", 9, 300.5);
        (ack.Reason, ack.Q, ack.QMax, ack.Flags) = (61, 129, 128, EventFlags.Queues);
        s.Events.Add(ack);
        var summary = s.Summarize();
        var port = Assert.Single(summary.Ports);
        Assert.Equal((1L, 0L, 1L), (port.AckDrops, port.DroppedSyns, port.Drops["TCP_LISTEN_OVERFLOW"]));
        var f = Assert.Single(summary.Findings, x => x.Rule == "synack-retransmits");
        Assert.Contains("1 final ACK was dropped at the full accept queue", f.Text);
        Assert.Contains("0 SYNs and 1 final ACK were dropped", Assert.Single(summary.Findings, x => x.Rule == "backlog-too-small").Text);
    }

    [Fact]
    public void SYNs_lost_upstream_fires_on_retries_tcpq_never_saw_dropped()
    {
        var s = Healthy().Syn("10.0.7.1", 8, 1300, 2, (0, 0, 128), firstMs: 300)
            .Established("10.0.7.1", 8, 1300.2, 300, 2, (1, 0, 128)).Accept("10.0.7.1", 8, 1301, 1300.2);
        var f = Assert.Single(Diagnose(s), x => x.Rule == "syns-lost-upstream");
        Assert.Contains("1 SYN retry but tcpq saw only 0 SYNs dropped", f.Text);
        // retries explained by drops at the listener are the backlog's story, not this one
        Assert.DoesNotContain(Diagnose(Burst()), x => x.Rule == "syns-lost-upstream");
    }

    [Fact]
    public void Every_rule_is_documented()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "tcpq.slnx"))) dir = dir.Parent;
        var doc = File.ReadAllText(Path.Combine(dir!.FullName, "docs", "diagnosis.md"));
        foreach (var rule in Rulebook.Rules) Assert.Contains($"## {rule.Name}", doc);
    }

    /// <summary>Backlog 1, one connection queued; two HTTP-like clients finish their handshake but
    /// their final ACK and their request are refused at the full queue and retransmitted until
    /// the application accepts, 1.2 s later.</summary>
    private static Scenario AcksRefused()
    {
        var s = new Scenario();
        s.Syn("10.0.7.1", 41000, 0, 1, (0, 0, 1)).Established("10.0.7.1", 41000, 0.2, 0, 1, (1, 0, 1));
        for (ushort i = 1; i <= 2; i++)
        {
            ushort p = (ushort)(41000 + i);
            s.Syn("10.0.7.1", p, i, 1, (0, 1, 1))
             .AckDrop("10.0.7.1", p, i + 0.2, 1, i, (1, 2, 1))
             .AckDrop("10.0.7.1", p, i + 0.3, 2, i, (1, 2, 1))
             .AckDrop("10.0.7.1", p, i + 200.3, 3, i, (1, 2, 1))
             .AckDrop("10.0.7.1", p, i + 600.3, 4, i, (1, 2, 1));
        }
        s.Accept("10.0.7.1", 41000, 1200, 0.2);
        for (ushort i = 1; i <= 2; i++)
        {
            ushort p = (ushort)(41000 + i);
            s.Established("10.0.7.1", p, 1201 + i, i, 1, (1, 0, 1)).Accept("10.0.7.1", p, 1210 + i, 1201 + i);
        }
        return s;
    }

    [Fact]
    public void Final_ack_refused_fires_with_the_clients_held_and_for_how_long()
    {
        var summary = AcksRefused().Summarize();
        var port = Assert.Single(summary.Ports);
        Assert.Equal((8L, 2L), (port.AckDrops, port.AckHeldClients));
        Assert.Equal(0, port.Retries); // refused ACKs are not SYN retries
        var f = Assert.Single(summary.Findings, x => x.Rule == "final-ack-refused");
        Assert.Equal(Severity.Critical, f.Severity);
        Assert.StartsWith("2 clients of :2000 completed the handshake from their side, but the kernel refused 8 of their final ACK or data segments at the full accept queue (Qmax 1); " +
                          "such a client believes it is connected and waits on retransmissions: they were held up to 1.20 s", f.Text);
        var slow = Assert.Single(port.Slowest, l => l.Connection.SourcePort == 41002);
        Assert.Equal(1u, slow.Connection.Attempts);
        Assert.Contains("final ACK/data refused ×4 over 1.20 s", slow.Text);
    }

    [Fact]
    public void Final_ack_refused_does_not_fire_on_syn_drops_alone()
    {
        Assert.DoesNotContain(Diagnose(Burst()), x => x.Rule == "final-ack-refused");
        Assert.DoesNotContain(Diagnose(Healthy()), x => x.Rule == "final-ack-refused");
    }
}
