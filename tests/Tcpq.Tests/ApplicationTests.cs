using System.Text;
using Tcpq.Connections;
using Tcpq.Connections.Diagnosis;
using Tcpq.Events;
using Tcpq.Output;
using Tcpq.Report;

namespace Tcpq.Tests;

/// <summary>Into the application (issue #13): first-read, first-write and close rows joined into
/// the timeline, the stages after accept(), the rules about them, and the rows' round trip.</summary>
public class ApplicationTests
{
    private const string C = "10.0.9.1";

    private static PortSummary Port(Scenario s) => Assert.Single(s.Summarize().Ports);
    private static List<Finding> Diagnose(Scenario s) => [.. s.Summarize().Findings];

    private static Scenario Healthy()
    {
        var s = new Scenario();
        for (int i = 0; i < 20; i++) s.Exchange(C, (ushort)(30000 + i), i * 10);
        return s;
    }

    /// <summary>Accepted at once, but the request sits unread: the accept loop hands the connection
    /// to a pool whose workers are busy.</summary>
    private static Scenario ReadsLate()
    {
        var s = new Scenario();
        for (int i = 0; i < 10; i++) s.Exchange(C, (ushort)(31000 + i), i * 10, readMs: 300 + i * 10);
        return s;
    }

    private static Scenario AnswersLate()
    {
        var s = new Scenario();
        for (int i = 0; i < 10; i++) s.Exchange(C, (ushort)(32000 + i), i * 10, answerMs: 400);
        return s;
    }

    /// <summary>The client sends at once; the connection waits 200 ms in the accept queue with its request.</summary>
    private static Scenario RequestsWaitForAccept()
    {
        var s = new Scenario();
        for (int i = 0; i < 10; i++) s.Exchange(C, (ushort)(33000 + i), i * 10, queueMs: 200, sendMs: 0.05);
        return s;
    }

    [Fact]
    public void The_stages_after_accept_are_measured_per_connection()
    {
        // SYN at 0, established 0.2, accepted 0.25 (queue 0.05), request arrives 0.21, read at 2000.25,
        // answered 4 ms later, closed by the peer 1 ms after that
        var s = new Scenario().Quick(C, 40000, 0)
            .FirstRead(C, 40000, 2000.25, 0.25, 0.21, bytes: 120)
            .FirstWrite(C, 40000, 2004.25, 2000.25, readBefore: 120, bytes: 512)
            .Close(C, 40000, 2005.25, 0.25, Closer.Peer, bytesIn: 120, bytesOut: 512);
        var p = Port(s);
        Assert.Equal((1L, 1L, 1L, 1L), (p.Connections, p.App.FirstReads, p.App.FirstWrites, p.App.Closes));
        Assert.Equal(2_000_000, p.App.AcceptToRead.Max);
        Assert.Equal(2_000_000, p.App.Unread.Max);           // the data came 40 µs before accept: unread since accept
        Assert.Equal(40, p.App.BeforeAccept.Max);
        Assert.Equal(4_000, p.App.ReadToWrite.Max);
        Assert.Equal(2_005_000, p.App.Lifetime.Max);
        Assert.Equal((120L, 512L, 0L), (p.App.BytesIn, p.App.BytesOut, p.App.Resets));
        Assert.Equal(1, p.App.ClosedBy["peer"]);
        var slow = Assert.Single(p.Slowest).Text;
        Assert.Contains(" · first read after 2.00 s (120 B; its data had waited 2.00 s, 40 µs of it before accept) · answered after 4 ms (512 B) · closed by the peer after 2.01 s, 120 B in / 512 B out", slow);
        Assert.Equal(2_004_250_000UL, Assert.Single(p.Slowest).Connection.DurationNs); // ranked by first SYN → first answer
    }

    [Fact]
    public void An_accepted_connection_is_held_for_its_application_rows_past_the_linger_time()
    {
        // the first read 30 s after accept still joins the connection: one connection, not two
        var s = new Scenario().Quick(C, 40001, 0).FirstRead(C, 40001, 30_000, 0.25, 29_000).FirstWrite(C, 40001, 30_001, 30_000)
            .Close(C, 40001, 30_002, 0.25, Closer.Application, reset: true);
        var p = Port(s);
        Assert.Equal((1L, 0L), (p.Connections, p.App.OnlyApplication));
        Assert.Equal(29_999_750, p.App.AcceptToRead.Max);
        Assert.Equal(1_000_000, p.App.Unread.Max);
        Assert.Equal(1, p.App.Resets);
        Assert.Equal(1, p.App.ClosedBy["app"]);
    }

    [Fact]
    public void Without_application_rows_asked_for_an_accepted_connection_ends_after_the_linger_time()
    {
        var s = new Scenario().Quick(C, 40002, 0).Quick(C, 40003, 10_000);
        var held = new ConnectionTracker(new TrackerOptions { Application = ApplicationRows.All });
        var ended = new ConnectionTracker(new TrackerOptions { Application = ApplicationRows.None });
        foreach (var e in s.Events) { held.OnEvent(e); ended.OnEvent(e); }
        Assert.Equal((2, 1), (held.Following, ended.Following)); // without: the first one ended 2 s after its accept
    }

    [Fact]
    public void A_server_that_speaks_first_has_no_read_to_write_stage()
    {
        var s = new Scenario().Quick(C, 40004, 0)
            .FirstWrite(C, 40004, 1, 0.25, readBefore: 0, bytes: 30)
            .FirstRead(C, 40004, 50, 0.25, 40, bytes: 10, wroteBefore: 30);
        var p = Port(s);
        Assert.Equal((1L, 0L), (p.App.WroteFirst, p.App.ReadToWrite.Count));
        Assert.Contains(" · wrote first (30 B) · first read after", Assert.Single(p.Slowest).Text);
    }

    [Fact]
    public void Application_rows_of_a_connection_whose_handshake_was_not_seen_are_not_counted_as_a_connection()
    {
        var s = new Scenario().FirstRead(C, 40005, 100, 90, 95).FirstWrite(C, 40005, 101, 100).Close(C, 40005, 102, 90, Closer.Peer);
        var p = Port(s);
        Assert.Equal((0L, 1L, 1L), (p.Connections, p.App.OnlyApplication, p.App.FirstReads));
        Assert.Equal(12_000, p.App.Lifetime.Max);
    }

    [Fact]
    public void Slow_read_fires_when_accepts_are_prompt_but_reads_late()
    {
        var f = Assert.Single(Diagnose(ReadsLate()), x => x.Rule == "slow-read");
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(f.Text, @"^the application accepts promptly on :2000 \(accept-queue wait p90 50 µs\) but reads late: after accept\(\) the first request waited unread in the socket p50 3[\d.]+ ms, p90 3[\d.]+ ms, up to 390 ms"), f.Text);
        Assert.Contains("worker pool", f.Text);
        Assert.DoesNotContain(Diagnose(ReadsLate()), x => x.Rule is "slow-accept" or "slow-response");
    }

    [Fact]
    public void Slow_read_does_not_fire_on_prompt_reads_nor_when_the_accept_itself_is_slow()
    {
        Assert.DoesNotContain(Diagnose(Healthy()), x => x.Rule == "slow-read");
        // accepted after 500 ms and read late: slow-accept's finding, not this one
        var s = new Scenario();
        for (int i = 0; i < 10; i++) s.Exchange(C, (ushort)(34000 + i), i * 10, queueMs: 500, readMs: 300);
        var findings = Diagnose(s);
        Assert.Contains(findings, x => x.Rule == "slow-accept");
        Assert.DoesNotContain(findings, x => x.Rule == "slow-read");
    }

    [Fact]
    public void Slow_response_fires_when_reads_are_prompt_but_answers_late()
    {
        var f = Assert.Single(Diagnose(AnswersLate()), x => x.Rule == "slow-response");
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.StartsWith("the application on :2000 reads promptly (the first request waited unread p90 ", f.Text);
        Assert.Contains("but answers late: first read → first write p50 400 ms, p90 400 ms, up to 400 ms (10 connections)", f.Text);
        Assert.DoesNotContain(Diagnose(AnswersLate()), x => x.Rule == "slow-read");
    }

    [Fact]
    public void Slow_response_does_not_fire_on_prompt_answers_nor_when_the_read_was_already_late()
    {
        Assert.DoesNotContain(Diagnose(Healthy()), x => x.Rule == "slow-response");
        var s = new Scenario();
        for (int i = 0; i < 10; i++) s.Exchange(C, (ushort)(35000 + i), i * 10, readMs: 300, answerMs: 400);
        Assert.DoesNotContain(Diagnose(s), x => x.Rule == "slow-response");
    }

    [Fact]
    public void Requests_before_accept_fires_when_requests_wait_in_the_accept_queue()
    {
        var f = Assert.Single(Diagnose(RequestsWaitForAccept()), x => x.Rule == "requests-before-accept");
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.True(f.Text.StartsWith("10 of 10 first requests on :2000 arrived before accept() and waited for it p50 200 ms, p90 200 ms, up to 200 ms"), f.Text);
    }

    [Fact]
    public void Requests_before_accept_does_not_fire_when_requests_come_after_a_prompt_accept()
    {
        Assert.DoesNotContain(Diagnose(Healthy()), x => x.Rule == "requests-before-accept");
        // before accept, but only by 40 µs each: the accept was prompt
        var s = new Scenario();
        for (int i = 0; i < 10; i++) s.Exchange(C, (ushort)(36000 + i), i * 10, sendMs: 0.01, queueMs: 0.05);
        Assert.Equal(10, Port(s).App.RequestsBeforeAccept);
        Assert.DoesNotContain(Diagnose(s), x => x.Rule == "requests-before-accept");
    }

    [Fact]
    public void A_healthy_port_says_how_fast_the_application_read_and_answered()
    {
        var f = Assert.Single(Diagnose(Healthy()));
        Assert.Equal("ok", f.Rule);
        Assert.EndsWith("; the application read the first request after p99 20 µs and answered after p99 500 µs.", f.Text);
    }

    [Theory]
    [InlineData(EventFormat.Csv)]
    [InlineData(EventFormat.Json)]
    public void Application_rows_read_back_as_they_were_written(EventFormat format)
    {
        var s = new Scenario().Quick(C, 40006, 0).FirstRead(C, 40006, 10, 0.25, 5, bytes: 77)
            .FirstWrite(C, 40006, 11, 10, readBefore: 77, bytes: 99).Close(C, 40006, 12, 0.25, Closer.Timeout, reset: false, 77, 99);
        var ms = new MemoryStream();
        using (var w = EventWriters.Create(format, ms, new EventContext(new WallClock(new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), (long)Scenario.Start), Scenario.Reasons)))
        {
            w.WriteHeader();
            foreach (var e in s.Events) w.Write(e);
            w.Flush();
        }
        var sink = new CollectingSink();
        TraceReader.Read(new MemoryStream(ms.ToArray()), "t", sink);
        var back = sink.Events.Where(e => EventKinds.IsApplication(e.Kind)).ToList();
        var sent = s.Events.Where(e => EventKinds.IsApplication(e.Kind)).ToList();
        Assert.Equal(sent.Count, back.Count);
        for (int i = 0; i < sent.Count; i++)
        {
            var (a, b) = (sent[i], back[i]);
            if (format == EventFormat.Csv) b.NetNs = a.NetNs; // csv has no netns
            Assert.Equal((a.Kind, a.Flags, a.WaitNs, a.BytesIn, a.BytesOut, a.DataAgeNs, a.Closer, a.Reset),
                         (b.Kind, b.Flags, b.WaitNs, b.BytesIn, b.BytesOut, b.DataAgeNs, b.Closer, b.Reset));
        }
    }

    [Fact]
    public void A_csv_trace_from_before_the_application_columns_still_reads()
    {
        var text = "TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax,Dest IP,Attempt,Wait us,PID,Comm,Reason\n" +
                   "1001234567000,2024-05-06T07:08:10.234567Z,accept,172.16.170.1,50066,2000,,,,10.0.0.5,1,1234,4242,nginx,\n";
        var sink = new CollectingSink();
        var r = TraceReader.Read(new MemoryStream(Encoding.UTF8.GetBytes(text)), "old.csv", sink);
        Assert.Equal((EventFormat.Csv, 1L), (r.Format, r.Rows));
        Assert.Equal(EventKind.Accept, Assert.Single(sink.Events).Kind);
    }

    [Fact]
    public void The_application_actions_are_off_by_default_and_asked_for_by_name_or_with_all()
    {
        var none = Tcpq.Commands.TraceVerb.ParseKinds(null)!;
        Assert.DoesNotContain(none, EventKinds.IsApplication);
        Assert.Contains(EventKind.Accept, none);
        Assert.Equal(EventKinds.All.Order(), Tcpq.Commands.TraceVerb.ParseKinds(["all"])!.Order());
        Assert.Equal(none.Append(EventKind.Close).Order(), Tcpq.Commands.TraceVerb.ParseKinds(["default,close"])!.Order());
        Assert.Equal(ApplicationRows.Close, Tcpq.Commands.EventPipeline.Tracking(Tcpq.Commands.TraceVerb.ParseKinds(["default,close"])).Application);
        Assert.Equal(ApplicationRows.None, Tcpq.Commands.EventPipeline.Tracking(none).Application);
    }
}
