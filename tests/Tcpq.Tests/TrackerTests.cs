using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Tests;

public class TrackerTests
{
    /// <summary>The seed's third client on Linux: the accept queue (backlog 1) holds two, so its
    /// first two SYNs are dropped; the third, 3 s after the first, gets in; nginx accepts it.</summary>
    private static Scenario RetriesWithDrops()
    {
        const string c = "172.16.170.1";
        return new Scenario()
            .Quick("10.0.0.1", 40001, 0, queueMs: 3200, qmax: 1)
            .Syn(c, 50066, 10, 1, (0, 2, 1)).SynDrop(c, 50066, 10.01, 1, (0, 2, 1))
            .Syn(c, 50066, 1010, 2, (0, 2, 1), firstMs: 10).SynDrop(c, 50066, 1010.01, 2, (0, 2, 1))
            .Syn(c, 50066, 3010, 3, (0, 1, 1), firstMs: 10)
            .Established(c, 50066, 3010.2, 10, 3, (1, 1, 1))
            .Accept(c, 50066, 3510.2, 3010.2);
    }

    [Fact]
    public void Joins_a_retried_and_dropped_connection_into_one_timeline()
    {
        var port = Assert.Single(RetriesWithDrops().Summarize().Ports);
        Assert.Equal((2L, 2L, 2L, 0L), (port.Connections, port.Established, port.Accepted, port.Aborted));
        Assert.Equal(2, port.Retries);
        Assert.Equal(2, port.Drops["accept-queue-full"]);
        Assert.Equal(2, port.AcceptQueueDrops);

        var slow = port.Slowest[0];
        Assert.Equal(50066, slow.Connection.SourcePort);
        Assert.Equal(3u, slow.Connection.Attempts);
        Assert.InRange(slow.Connection.HandshakeNs!.Value / 1e9, 2.99, 3.01);
        Assert.InRange(slow.Connection.QueueWaitNs!.Value / 1e9, 0.49, 0.51);
        Assert.InRange(slow.Connection.TotalNs!.Value / 1e9, 3.49, 3.51);
        Assert.Equal("172.16.170.1:50066 → :2000  SYN ×3 (2 dropped: accept-queue-full, Q 2/1) · established after 3.00 s · accepted after 3.50 s by nginx[812]", slow.Text);
        Assert.InRange(port.Total.Max, 3_490_000, 3_510_000);
        Assert.InRange(port.Handshake.P50, 150, 250); // the quick one: 0.2 ms
        Assert.Equal((2u, 1u), (port.PeakQ, port.QMax));
        Assert.True(port.QueueFullShare > 0.5, $"queue full share {port.QueueFullShare}");
    }

    [Fact]
    public void From_seed_input_a_retried_SYN_that_found_the_queue_full_counts_as_dropped_without_its_row()
    {
        // the second SYN's syn-drop row is missing, as the seed format has none
        var s = RetriesWithDrops();
        s.Events.RemoveAt(s.Events.FindLastIndex(e => e.Kind == EventKind.SynDrop));
        Assert.Equal(1, Assert.Single(s.Summarize().Ports).Drops["accept-queue-full"]); // a live trace reports its own drops
        s.SeedInput = true;
        var port = Assert.Single(s.Summarize().Ports);
        Assert.Equal(2, port.Drops["accept-queue-full"]);
        Assert.Contains("(2 dropped: accept-queue-full, Q 2/1)", port.Slowest[0].Text);

        // a retry after a SYN that found room is not a drop at the listener
        var lost = new Scenario().Syn("10.0.0.1", 1, 0, 1, (0, 0, 8)).Syn("10.0.0.1", 1, 1000, 2, (0, 0, 8), firstMs: 0);
        Assert.Empty(Assert.Single(lost.Summarize().Ports).Drops);
    }

    [Fact]
    public void Gives_the_same_answer_whatever_order_the_events_arrive_in()
    {
        var s = RetriesWithDrops();
        var inOrder = s.Summarize().Ports[0];
        var rng = new Random(7);
        for (int round = 0; round < 5; round++)
        {
            var shuffled = s.Events.OrderBy(_ => rng.Next()).ToList();
            var port = Assert.Single(s.Summarize(shuffled).Ports);
            Assert.Equal((inOrder.Connections, inOrder.Accepted, inOrder.Retries, inOrder.AllDrops), (port.Connections, port.Accepted, port.Retries, port.AllDrops));
            Assert.Equal(inOrder.Total.Max, port.Total.Max);
            Assert.Equal(inOrder.Handshake.Max, port.Handshake.Max);
            Assert.Equal(inOrder.Slowest[0].Text, port.Slowest[0].Text);
        }
        var reversed = Assert.Single(s.Summarize(Enumerable.Reverse(s.Events)).Ports);
        Assert.Equal(inOrder.Slowest[0].Text, reversed.Slowest[0].Text);
        Assert.Equal(0, reversed.BeganBeforeTrace);
    }

    [Fact]
    public void A_connection_that_began_before_tracing_takes_its_times_from_the_kernels_wait()
    {
        // only its second SYN, syn-aa and accept were traced: the kernel's Wait us reaches back to the first SYN
        var s = new Scenario()
            .Syn("10.0.0.9", 1234, 1000, 2, (0, 0, 8), firstMs: 0)
            .Established("10.0.0.9", 1234, 1000.5, firstMs: 0, 2, (1, 0, 8))
            .Accept("10.0.0.9", 1234, 1010.5, 1000.5);
        var port = Assert.Single(s.Summarize().Ports);
        Assert.Equal((1L, 1L, 1L), (port.Connections, port.BeganBeforeTrace, port.Accepted));
        Assert.Equal(1000_500, port.Handshake.Max);
        Assert.Equal(1010_500, port.Total.Max);
        Assert.Contains("SYN ×2, the first before tracing", port.Slowest[0].Text);

        // seen only at accept: no handshake time, but the queue wait
        var late = new Scenario().Accept("10.0.0.9", 1234, 50, 20);
        var p2 = Assert.Single(late.Summarize().Ports);
        Assert.Equal((0L, 0L, 1L), (p2.Handshake.Count, p2.Total.Count, p2.QueueWait.Count));
        Assert.Equal(30_000, p2.QueueWait.Max);
    }

    [Fact]
    public void Counts_cookies_and_SYN_ACK_retransmits()
    {
        var s = new Scenario()
            .Syn("10.0.0.2", 1, 0, 1, (128, 0, 128)).Cookie("10.0.0.2", 1, 0.01)
            .Established("10.0.0.2", 1, 0.3, 0, 1, (0, 0, 128)).Accept("10.0.0.2", 1, 0.4, 0.3)
            .Syn("10.0.0.3", 2, 5, 1, (0, 0, 128)).SynAckRetrans("10.0.0.3", 2, 1005, 1, 5)
            .Established("10.0.0.3", 2, 1010, 5, 1, (1, 0, 128)).Accept("10.0.0.3", 2, 1011, 1010);
        var port = Assert.Single(s.Summarize().Ports);
        Assert.Equal((1L, 1L, 2L), (port.Cookies, port.SynAckRetrans, port.Accepted));
        Assert.Contains("1 SYN-ACK retransmit", port.Slowest[0].Text);
        Assert.Contains(port.Slowest, l => l.Text.Contains("SYN cookie"));
    }

    [Fact]
    public void Counts_clients_that_gave_up_in_the_accept_queue()
    {
        var s = new Scenario()
            .Syn("10.0.0.4", 7, 0, 1, (0, 0, 128)).Established("10.0.0.4", 7, 0.2, 0, 1, (1, 0, 128))
            .Abort("10.0.0.4", 7, 4000.2, 0.2)
            .Quick("10.0.0.5", 8, 10);
        var port = Assert.Single(s.Summarize().Ports);
        Assert.Equal((2L, 2L, 1L, 1L), (port.Connections, port.Established, port.Accepted, port.Aborted));
        Assert.Equal(1, port.Aborts["peer-reset"]);
        Assert.Equal("10.0.0.4:7 → :2000  SYN ×1 · established after 200 µs · peer-reset after 4.00 s", port.Slowest[0].Text);
    }

    [Fact]
    public void Without_its_syn_aa_row_a_connection_takes_its_handshake_from_accepts_wait()
    {
        // the kernel skipped the run that would have made the syn-aa row (tcpq says so at exit)
        var s = new Scenario()
            .Syn("10.0.5.4", 40400, 0, 1, (0, 0, 8))
            .Accept("10.0.5.4", 40400, 3000, establishedMs: 2000);
        var port = Assert.Single(s.Summarize().Ports);
        Assert.Equal((1L, 1L), (port.Established, port.Accepted));
        Assert.Equal(2_000_000, port.Handshake.Max);
        Assert.Equal(1_000_000, port.QueueWait.Max);
    }

    [Fact]
    public void A_discarded_child_socket_does_not_end_its_connection()
    {
        var s = new Scenario()
            .Syn("10.0.5.3", 40300, 0, 1, (0, 0, 8))
            .Abort("10.0.5.3", 40300, 0.1, 0, reason: DropReasons.ChildDiscarded)
            .Established("10.0.5.3", 40300, 0.1, 0, 1, (1, 0, 8))
            .Accept("10.0.5.3", 40300, 5, 0.1);
        var port = Assert.Single(s.Summarize().Ports);
        Assert.Equal((1L, 1L, 1L, 0L), (port.Connections, port.Established, port.Accepted, port.Aborted));
        Assert.Equal(1, port.Aborts["child-discarded"]);
    }

    [Fact]
    public void An_accept_long_after_its_connections_abort_joins_that_connection()
    {
        // reset by the client while queued at 100 ms; the kernel keeps it in the accept queue and
        // the application takes it 5 s later, long past the 2 s a finished connection lingers
        var s = new Scenario()
            .Syn("10.0.5.1", 40100, 0, 1, (0, 0, 8))
            .Established("10.0.5.1", 40100, 0.1, 0, 1, (1, 0, 8))
            .Abort("10.0.5.1", 40100, 100, 0.1)
            .Quick("10.0.5.2", 40200, 3000)          // time moves on: the tracker expires what lingers
            .Accept("10.0.5.1", 40100, 5100, 0.1);
        var port = Assert.Single(s.Summarize().Ports);
        Assert.Equal((2L, 2L, 1L, 0L), (port.Connections, port.Accepted, port.Aborted, port.BeganBeforeTrace));
        Assert.Equal(0, port.Expired);

        // never accepted: it ends as aborted when it goes idle, not as expired
        var never = new Scenario()
            .Syn("10.0.5.1", 40100, 0, 1, (0, 0, 8))
            .Established("10.0.5.1", 40100, 0.1, 0, 1, (1, 0, 8))
            .Abort("10.0.5.1", 40100, 100, 0.1)
            .Quick("10.0.5.2", 40200, 200_000);
        var p2 = Assert.Single(never.Summarize().Ports);
        Assert.Equal((2L, 1L, 1L, 0L), (p2.Connections, p2.Accepted, p2.Aborted, p2.Expired));
    }

    [Fact]
    public void A_reused_4_tuple_after_accept_is_a_new_connection_but_a_late_event_is_not()
    {
        var s = new Scenario().Quick("10.0.0.6", 9, 0).Quick("10.0.0.6", 9, 100);
        var port = Assert.Single(s.Summarize().Ports);
        Assert.Equal((2L, 2L), (port.Connections, port.Accepted));

        // the syn-aa arrives after the accept, within the linger time: still one connection
        var late = new Scenario().Quick("10.0.0.7", 9, 0);
        var order = new[] { late.Events[0], late.Events[2], late.Events[1] };
        var p2 = Assert.Single(late.Summarize(order).Ports);
        Assert.Equal((1L, 1L, 1L), (p2.Connections, p2.Handshake.Count, p2.Total.Count));
    }

    [Fact]
    public void A_client_that_reuses_its_port_while_its_reset_connection_still_waits_to_be_accepted_makes_two()
    {
        // A: established, reset by its client while queued; B: the client's next connection from
        // the same port, while A is still in the accept queue; then the application accepts A, then B
        var s = new Scenario()
            .Syn("10.0.0.5", 7, 0, 1, (0, 0, 128)).Established("10.0.0.5", 7, 0.2, 0, 1, (1, 0, 128))
            .Abort("10.0.0.5", 7, 1, 0.2)
            .Syn("10.0.0.5", 7, 2, 1, (0, 1, 128)).Established("10.0.0.5", 7, 2.2, 2, 1, (1, 1, 128))
            .Accept("10.0.0.5", 7, 50.2, 0.2)
            .Accept("10.0.0.5", 7, 60.2, 2.2);
        var port = Assert.Single(s.Summarize().Ports);
        Assert.Equal((2L, 2L, 2L, 1L), (port.Connections, port.Established, port.Accepted, port.Aborted));
        Assert.Equal(2, port.QueueWait.Count);
        Assert.InRange(port.QueueWait.P50, 49_000, 51_000); // A waited 50 ms (the lower of two)
        Assert.InRange(port.QueueWait.Max, 57_000, 59_000); // B 58 ms
    }

    [Fact]
    public void Expires_connections_that_never_finish_and_counts_them()
    {
        var s = new Scenario()
            .Syn("10.0.0.8", 1, 0, 1, (0, 0, 128))              // never heard of again
            .Quick("10.0.0.9", 2, 200_000);                      // 200 s later
        var tracker = new ConnectionTracker();
        foreach (var e in s.Events) tracker.OnEvent(e);
        Assert.Equal(1, tracker.Following);                     // the first expired, the second is done and lingers
        tracker.Complete();
        var port = Assert.Single(tracker.Listeners);
        Assert.Equal((2L, 1L, 1L), (port.Connections, port.Expired, port.Accepted));
    }

    [Fact]
    public void Merges_listeners_past_the_limit_into_one_other_entry()
    {
        var tracker = new ConnectionTracker(new TrackerOptions { MaxListeners = 3 });
        for (ushort p = 1; p <= 10; p++)
            foreach (var e in new Scenario(port: p).Quick("10.0.0.1", 5000, p).Events) tracker.OnEvent(e);
        tracker.Complete();
        var listeners = tracker.Listeners.ToList();
        Assert.Equal(4, listeners.Count);
        Assert.Equal(7, Assert.Single(listeners, l => l.IsOverflow).Accepted);
    }

    [Fact]
    public void Clients_that_reuse_their_ports_at_once_hold_one_timeline_per_port_not_one_per_connection()
    {
        // connload's shape (issue 19): 100 client ports, each reused every 10 ms, far inside the
        // 2 s linger; an accepted connection nobody will hear from again ends when its 4-tuple is
        // reused, so what is held stays one per port (the regression held them all, 64 deep)
        var tracker = new ConnectionTracker();
        int connections = 0;
        for (int round = 0; round < 100; round++)
            for (ushort p = 1; p <= 100; p++, connections++)
                foreach (var e in new Scenario().Quick("10.0.0.1", p, round * 10 + p * 0.05).Events) tracker.OnEvent(e);
        Assert.InRange(tracker.Following, 100, 101);
        tracker.Complete();
        var port = Assert.Single(tracker.Listeners);
        Assert.Equal((connections, connections), ((int)port.Connections, (int)port.Accepted));
    }

    [Fact]
    public void A_4_tuple_holds_at_most_64_earlier_connections_that_still_wait_for_their_accept()
    {
        // 100 connections from one client port, each reset while queued and replaced at once:
        // all of them wait in the accept queue; past 64 held behind the newest, the oldest end
        var s = new Scenario();
        for (int i = 0; i < 100; i++)
            s.Syn("10.0.0.5", 7, i, 1, (0, (uint)i, 4096)).Established("10.0.0.5", 7, i + 0.2, i, 1, (1, (uint)i, 4096)).Abort("10.0.0.5", 7, i + 0.5, i + 0.2);
        var tracker = s.Track(s.Events);
        var port = Assert.Single(tracker.Listeners);
        Assert.Equal((100L, 100L, 0L), (port.Connections, port.Aborted, port.Accepted));

        var live = new ConnectionTracker();
        foreach (var e in s.Events) live.OnEvent(e);
        Assert.Equal(65, live.Following); // the newest and 64 behind it
        // accept() takes the queue's head: the oldest still held, not the newest
        s = new Scenario();
        s.Accept("10.0.0.5", 7, 200, 35.2);
        live.OnEvent(s.Events[0]);
        live.Complete();
        var p = Assert.Single(TraceSummary.Build("test", live, Scenario.Reasons, Scenario.Context).Ports);
        Assert.Equal(1L, p.Accepted);
        Assert.InRange(p.QueueWait.Max, 164_000, 166_000); // accepted at 200 ms, established at 35.2 ms: the oldest held
    }
}
