using System.Text;
using Tcpq.Commands;
using Tcpq.Connections;
using Tcpq.Dotnet;
using Tcpq.Events;
using Tcpq.Output;
using Tcpq.Report;

namespace Tcpq.Tests;

/// <summary>The application side (--dotnet): Kestrel and runtime events into app rows, joined to
/// the kernel's connections, and the rules that read them, each firing and not.</summary>
public class DotnetTests
{
    private const uint Pid = 812;
    private static readonly DotnetProcess Web = new((int)Pid, "web", 4026531840, true, "/tmp/dotnet-diagnostic-812-1-socket", (int)Pid, null);

    /// <summary>The scenario's events, with a decoder that appends app rows to them.</summary>
    private static (Scenario S, AppEventDecoder App) Setup()
    {
        var s = new Scenario();
        return (s, new AppEventDecoder(Web, new ListSink(s.Events)));
    }

    private sealed class ListSink(List<TcpqEvent> list) : IEventSink
    {
        public void OnEvent(in TcpqEvent e) => list.Add(e);
    }

    /// <summary>A connection from 10.0.0.1:port accepted by web[812] after <paramref name="queueMs"/>,
    /// started by Kestrel <paramref name="toAppMs"/> later, its one request taking <paramref name="requestMs"/>.</summary>
    private static void Served(Scenario s, AppEventDecoder app, ushort port, double atMs, double queueMs, double toAppMs = 0.1, double requestMs = 2)
    {
        s.Syn("10.0.0.1", port, atMs, 1, (0, 0, 128)).Established("10.0.0.1", port, atMs + 0.2, atMs, 1, (1, 0, 128))
         .Accept("10.0.0.1", port, atMs + 0.2 + queueMs, atMs + 0.2, pid: Pid, comm: "web");
        double start = atMs + 0.2 + queueMs + toAppMs;
        string id = $"C{port}";
        app.ConnectionStart(Scenario.Ms(start), id, "127.0.0.1:2000", $"[::ffff:10.0.0.1]:{port}");
        app.RequestStart(Scenario.Ms(start + 0.1), id + ":00000001");
        app.RequestStop(Scenario.Ms(start + 0.1 + requestMs), id, id + ":00000001");
        app.ConnectionStop(Scenario.Ms(start + 0.2 + requestMs), id);
    }

    private static List<Finding> Diagnose(Scenario s) => [.. s.Summarize(s.Events.OrderBy(e => e.TsNs)).Findings];

    [Fact]
    public void Kestrel_events_become_app_rows_with_the_kernels_4_tuple_and_durations()
    {
        var (s, app) = Setup();
        Served(s, app, 40001, 0, queueMs: 1, toAppMs: 3, requestMs: 20);
        var rows = s.Events.Where(e => EventKinds.IsDotnet(e.Kind)).ToList();
        Assert.Equal([EventKind.AppConn, EventKind.AppRequest, EventKind.AppClose], rows.Select(r => r.Kind));
        var accept = s.Events.Single(e => e.Kind == EventKind.Accept);
        Assert.All(rows, r => Assert.Equal(ConnectionKey.Of(accept), ConnectionKey.Of(r))); // [::ffff:10.0.0.1] is 10.0.0.1
        Assert.All(rows, r => Assert.Equal((Pid, "web"), (r.Pid, Comm16.Text(r.Comm))));
        var request = rows[1];
        Assert.Equal((20_000_000UL, 1u), (request.WaitNs, request.Attempt));
        Assert.Equal((20_200_000UL, 1u), (rows[2].WaitNs, rows[2].Attempt)); // lifetime, requests served

        var t = s.Summarize().Ports.Single().Dotnet!;
        Assert.Equal(("web[812]", 1L, 1L), (t.Name, t.Joined, t.Requests));
        Assert.Equal(3000, t.AcceptToApp.Max);
        Assert.Equal(20_000, t.FirstRequest.Max);
    }

    [Fact]
    public void A_runtime_says_little_a_row_only_for_what_matters()
    {
        var (s, app) = Setup();
        app.ThreadPoolAdjustment(Scenario.Ms(1), reason: 0, newThreadCount: 3); // warmup: no row
        app.ThreadPoolAdjustment(Scenario.Ms(2), AppEventDecoder.StarvationReason, 4);
        app.ThreadPoolAdjustment(Scenario.Ms(3), AppEventDecoder.CooperativeBlockingReason, 5);
        app.Counter(Scenario.Ms(4), "threadpool-queue-length", 7); // no thread count yet: no row
        app.Counter(Scenario.Ms(5), "threadpool-thread-count", 5);
        app.Counter(Scenario.Ms(5), "threadpool-queue-length", 42);
        app.GcSuspendStart(Scenario.Ms(10), 17);
        app.GcRestartStop(Scenario.Ms(25));
        app.ConnectionRejected(Scenario.Ms(30), "unknown connection"); // no start seen (not asked for): the process's refusal
        Assert.Equal([EventKind.AppStarve, EventKind.AppStarve, EventKind.AppPool, EventKind.AppGc, EventKind.AppReject], s.Events.Select(e => e.Kind));
        Assert.Equal([false, false, false, false, false], s.Events.Select(e => EventKinds.HasTuple(e)));
        Assert.Equal(DropReasons.ConnectionLimit, s.Events[4].Reason);
        Assert.Equal([DropReasons.Starvation, DropReasons.CooperativeBlocking], s.Events.Take(2).Select(e => e.Reason));
        Assert.Equal((5u, 42u), (s.Events[2].Q0, s.Events[2].Q));
        Assert.Equal((15_000_000UL, 17u), (s.Events[3].WaitNs, s.Events[3].Attempt));
    }

    [Theory]
    [InlineData("127.0.0.1:5000", "127.0.0.1", 5000)]
    [InlineData("[::ffff:10.1.2.3]:80", "10.1.2.3", 80)]
    [InlineData("[2001:db8::1]:443", "2001:db8::1", 443)]
    public void Kestrel_endpoints_parse_as_the_kernel_stores_addresses(string text, string address, ushort port)
    {
        Assert.True(AppEventDecoder.TryEndPoint(text, out var a, out var p));
        Assert.Equal((address, port), (a.ToString(), p));
    }

    [Fact]
    public void Non_tcp_endpoints_and_odd_request_ids_are_skipped()
    {
        Assert.False(AppEventDecoder.TryEndPoint("unix:/run/app.sock", out _, out _));
        Assert.False(AppEventDecoder.TryEndPoint(null, out _, out _));
        Assert.Equal(0x1au, AppEventDecoder.RequestNumber("0HNQ:0000001A"));
        Assert.Null(AppEventDecoder.RequestNumber("no-number"));
    }

    [Fact]
    public void App_rows_for_connections_not_followed_are_counted_not_invented()
    {
        var (s, app) = Setup();
        Served(s, app, 40001, 0, queueMs: 1);
        app.ConnectionStart(Scenario.Ms(5), "old", "127.0.0.1:2000", "10.9.9.9:1234"); // accepted before tracing
        var summary = s.Summarize();
        Assert.Equal(1, summary.Ports.Single().Connections);
        Assert.Equal(1, summary.Ports.Single().Dotnet!.Unjoined);
    }

    [Fact]
    public void A_connection_waits_for_its_first_request_however_long_it_takes()
    {
        var (s, app) = Setup();
        Served(s, app, 40001, 0, queueMs: 1, requestMs: 30_000); // far past the 2 s linger
        var t = s.Track(s.Events.OrderBy(e => e.TsNs));
        var port = TraceSummaryOf(t).Ports.Single();
        Assert.Equal(30_000_000, port.Dotnet!.FirstRequest.Max);
        Assert.Equal(1, port.Connections);
    }

    private static TraceSummary TraceSummaryOf(ConnectionTracker t) => TraceSummary.Build("test", t, Scenario.Reasons, Scenario.Context);

    /// <summary>20 clients wait 50–240 ms in the accept queue of web[812]; its pool's queue grows.</summary>
    private static (Scenario, AppEventDecoder) Starved(bool injections, double queueMs = 50)
    {
        var (s, app) = Setup();
        app.Counter(Scenario.Ms(0), "threadpool-thread-count", 2);
        app.Counter(Scenario.Ms(0), "threadpool-queue-length", 0);
        for (int i = 0; i < 20; i++) Served(s, app, (ushort)(41000 + i), i * 20, queueMs: queueMs + i * 10, toAppMs: 30);
        if (injections)
            for (int i = 0; i < 4; i++) app.ThreadPoolAdjustment(Scenario.Ms(100 + i * 500), AppEventDecoder.StarvationReason, (uint)(3 + i));
        app.Counter(Scenario.Ms(1000), "threadpool-thread-count", 6);
        app.Counter(Scenario.Ms(1000), "threadpool-queue-length", 37);
        return (s, app);
    }

    [Fact]
    public void Thread_pool_starvation_fires_on_injections_while_the_accept_queue_waits_and_names_the_process()
    {
        var f = Assert.Single(Diagnose(Starved(injections: true).Item1), x => x.Rule == "thread-pool-starvation");
        Assert.Equal(Severity.Critical, f.Severity);
        Assert.Matches(@"^the thread pool of web\[812\] was starved: it added threads 4 times \(4 for starvation\); its queue of work items peaked at 37 \(from 0\), threads 2→6, " +
                       @"while connections waited in the accept queue of :2000 p90 [\d.]+ ms, up to 240 ms, and Kestrel started them p90 30 ms after accept\(\)\. ", f.Text);
    }

    [Fact]
    public void Thread_pool_starvation_fires_on_a_lasting_backlog_of_work_without_injections()
    {
        var (s, app) = Starved(injections: false);
        app.Counter(Scenario.Ms(2000), "threadpool-thread-count", 3);
        app.Counter(Scenario.Ms(2000), "threadpool-queue-length", 51);
        var f = Assert.Single(Diagnose(s), x => x.Rule == "thread-pool-starvation");
        Assert.StartsWith("the thread pool of web[812] was starved: its queue of work items held 16 or more for 2 s (peak 51, from 0) with only 2→6 threads, while connections waited", f.Text);
    }

    [Fact]
    public void The_cause_comes_before_the_symptom_it_explains()
    {
        var findings = Diagnose(Starved(injections: true, queueMs: 1000).Item1); // both critical: the order of the rules decides
        var rules = findings.Select(f => (f.Rule, f.Severity)).ToList();
        int cause = rules.FindIndex(r => r.Rule == "thread-pool-starvation"), symptom = rules.FindIndex(r => r.Rule == "slow-accept");
        Assert.True(cause >= 0 && symptom >= 0, string.Join(", ", rules));
        Assert.Equal(rules[cause].Severity, rules[symptom].Severity);
        Assert.True(cause < symptom, string.Join(", ", rules));
    }

    [Fact]
    public void Thread_pool_starvation_does_not_fire_without_injections_or_without_waits()
    {
        Assert.DoesNotContain(Diagnose(Starved(injections: false).Item1), x => x.Rule == "thread-pool-starvation");
        var (s, app) = Setup();
        for (int i = 0; i < 20; i++) Served(s, app, (ushort)(41000 + i), i * 20, queueMs: 0.05);
        app.ThreadPoolAdjustment(Scenario.Ms(100), AppEventDecoder.StarvationReason, 3);
        Assert.DoesNotContain(Diagnose(s), x => x.Rule == "thread-pool-starvation");
    }

    /// <summary>Connections wait 60 ms in the accept queue; GC pauses of 40 ms fall inside those waits, or elsewhere.</summary>
    private static Scenario Paused(bool duringWaits)
    {
        var (s, app) = Setup();
        for (int i = 0; i < 10; i++)
        {
            Served(s, app, (ushort)(42000 + i), i * 200, queueMs: 60);
            double pause = duringWaits ? i * 200 + 10 : i * 200 + 100;
            app.GcSuspendStart(Scenario.Ms(pause), (uint)i);
            app.GcRestartStop(Scenario.Ms(pause + 40));
        }
        return s;
    }

    [Fact]
    public void Gc_pauses_fire_when_they_coincide_with_accept_queue_waits()
    {
        var f = Assert.Single(Diagnose(Paused(duringWaits: true)), x => x.Rule == "gc-pauses");
        Assert.Matches(@"^10 of 10 connections that waited 10 ms or more in the accept queue of :2000 waited across a GC pause of web\[812\] \(up to 40 ms of one wait; 10 pauses, the longest 40 ms, 400 ms in all\)\.", f.Text);
        Assert.DoesNotContain(Diagnose(Paused(duringWaits: false)), x => x.Rule == "gc-pauses");
    }

    [Fact]
    public void Kestrel_connection_limit_fires_on_refused_connections_only()
    {
        var (s, app) = Setup();
        for (int i = 0; i < 5; i++) Served(s, app, (ushort)(43000 + i), i * 10, queueMs: 0.1);
        Assert.DoesNotContain(Diagnose(s), x => x.Rule == "kestrel-connection-limit");
        s.Syn("10.0.0.1", 43100, 100, 1, (0, 0, 128)).Established("10.0.0.1", 43100, 100.2, 100, 1, (1, 0, 128)).Accept("10.0.0.1", 43100, 100.3, 100.2, pid: Pid, comm: "web");
        app.ConnectionStart(Scenario.Ms(100.4), "R", "127.0.0.1:2000", "10.0.0.1:43100");
        app.ConnectionRejected(Scenario.Ms(100.5), "R");
        app.ConnectionStop(Scenario.Ms(100.6), "R");
        var f = Assert.Single(Diagnose(s), x => x.Rule == "kestrel-connection-limit");
        Assert.Equal(Severity.Critical, f.Severity);
        Assert.StartsWith("Kestrel in web[812] refused 1 of 6 connections on :2000: MaxConcurrentConnections was reached.", f.Text);
    }

    [Fact]
    public void Kestrel_connection_limit_fires_on_refusals_known_by_the_process_only()
    {
        // the default session asks Kestrel for refusals, not for connection starts: no 4-tuple to join
        var (s, app) = Setup();
        for (int i = 0; i < 20; i++) s.Quick("10.0.0.1", (ushort)(43000 + i), i * 10, pid: Pid, comm: "web");
        Assert.DoesNotContain(Diagnose(s), x => x.Rule == "kestrel-connection-limit");
        app.ConnectionRejected(Scenario.Ms(100.5), "R1");
        var f = Assert.Single(Diagnose(s), x => x.Rule == "kestrel-connection-limit");
        Assert.Equal(Severity.Warning, f.Severity); // 1 of 20
        Assert.StartsWith("Kestrel in web[812] refused 1 of 20 connections on :2000", f.Text);
        app.ConnectionRejected(Scenario.Ms(101), "R2");
        Assert.Equal(Severity.Critical, Assert.Single(Diagnose(s), x => x.Rule == "kestrel-connection-limit").Severity);
    }

    [Theory]
    [InlineData(EventFormat.Csv)]
    [InlineData(EventFormat.Json)]
    public void A_refusal_without_a_4_tuple_survives_a_saved_trace(EventFormat format)
    {
        var (s, app) = Setup();
        s.Quick("10.0.0.1", 43000, 0, pid: Pid, comm: "web");
        app.ConnectionRejected(Scenario.Ms(1), "R1");
        var ms = new MemoryStream();
        using (var w = EventWriters.Create(format, ms, new EventContext(new WallClock(new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), (long)Scenario.Start), Scenario.Reasons)))
        {
            w.WriteHeader();
            foreach (var e in s.Events) w.Write(e);
            w.Flush();
        }
        string text = Encoding.UTF8.GetString(ms.ToArray());
        Assert.Contains(format == EventFormat.Csv ? ",app-reject,,,," : "\"action\":\"app-reject\",\"source_ip\":null,\"source_port\":null,\"dest_port\":null", text);
        var tracker = new ConnectionTracker();
        Assert.Null(TraceReader.Read(new MemoryStream(ms.ToArray()), "trace", tracker).Error);
        tracker.Complete();
        Assert.Contains(TraceSummaryOf(tracker).Findings, f => f.Rule == "kestrel-connection-limit");
    }

    [Theory]
    [InlineData(EventFormat.Csv)]
    [InlineData(EventFormat.Json)]
    public void App_rows_survive_a_saved_trace_and_report_shows_the_app_stages(EventFormat format)
    {
        var (s, _) = Starved(injections: true);
        var ordered = s.Events.OrderBy(e => e.TsNs).ToList();
        var ms = new MemoryStream();
        using (var w = EventWriters.Create(format, ms, new EventContext(new WallClock(new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), (long)Scenario.Start), Scenario.Reasons)))
        {
            w.WriteHeader();
            foreach (var e in ordered) w.Write(e);
            w.Flush();
        }
        var text = Encoding.UTF8.GetString(ms.ToArray());
        if (format == EventFormat.Csv)
        {
            Assert.Contains(",app-pool,,,,2,0,0,,,,812,web,,,,,,\n", text);
            Assert.Contains(",app-starve,,,,,,,,3,,812,web,starvation,,,,,\n", text);
            Assert.Matches(@",app-request,10\.0\.0\.1,41000,2000,,,,127\.0\.0\.1,1,2000,812,web,,,,,,\n", text);
        }
        var tracker = new ConnectionTracker();
        var read = TraceReader.Read(new MemoryStream(ms.ToArray()), "trace", tracker);
        Assert.Null(read.Error);
        tracker.Complete();
        var summary = TraceSummary.Build("trace", tracker, Scenario.Reasons, Scenario.Context);
        Assert.Contains(summary.Findings, f => f.Rule == "thread-pool-starvation");
        var app = summary.Ports.Single().Dotnet!;
        Assert.Equal((20L, 20L, 4L, 37u), (app.Joined, app.Requests, app.StarvationAdjustments, app.PeakQueue));

        var textSummary = new StringWriter();
        new SummaryTextWriter(textSummary, terminal: false).Write(summary);
        Assert.Contains("  app          web[812] · 20 connections joined · 20 requests · 0 refused by Kestrel's limit", textSummary.ToString());
        Assert.Contains("  accept → Kestrel", textSummary.ToString());
        Assert.Contains("  first request", textSummary.ToString());
    }

    [Fact]
    public void Seed_format_leaves_app_rows_out()
    {
        var (s, app) = Setup();
        Served(s, app, 40001, 0, queueMs: 1);
        var ms = new MemoryStream();
        using (var w = EventWriters.Create(EventFormat.Seed, ms, new EventContext(new WallClock(DateTime.UnixEpoch, 0), Scenario.Reasons)))
        {
            foreach (var e in s.Events) w.Write(e);
            w.Flush();
        }
        Assert.DoesNotContain("app-", Encoding.UTF8.GetString(ms.ToArray()));
    }

    [Fact]
    public void A_joined_processs_connections_wait_for_app_rows_that_come_seconds_after_the_kernels()
    {
        var (s, app) = Setup();
        Served(s, app, 40001, 0, queueMs: 1);
        var appRows = s.Events.Where(e => EventKinds.IsDotnet(e.Kind)).ToList();
        var kernel = s.Events.Where(e => !EventKinds.IsDotnet(e.Kind)).ToList();
        var other = new Scenario();
        for (int i = 0; i < 50; i++) other.Quick("10.0.0.9", (ushort)(50000 + i), 100 + i * 100); // 5 s of kernel rows first
        var tracker = new ConnectionTracker();
        tracker.ExpectApp(Pid); // what trace does when it has joined the process
        foreach (var e in kernel.Concat(other.Events).Concat(appRows)) tracker.OnEvent(e);
        tracker.Complete();
        var port = TraceSummaryOf(tracker).Ports.Single(p => p.Port == 2000);
        Assert.Equal((1L, 0L), (port.Dotnet!.Joined, port.Dotnet.Unjoined));
    }

    [Fact]
    public void A_client_reconnecting_from_the_same_port_before_the_app_rows_came_gets_each_connection_its_own()
    {
        // the server closes first (Connection: close), so the client may reuse its port at once:
        // seen in the kernel test, 2 of 120 connections; the app rows of both come later
        var (s, app) = Setup();
        Served(s, app, 40001, 0, queueMs: 1, toAppMs: 0.5, requestMs: 1);
        Served(s, app, 40001, 5, queueMs: 1, toAppMs: 2, requestMs: 3);
        var kernel = s.Events.Where(e => !EventKinds.IsDotnet(e.Kind)).OrderBy(e => e.TsNs);
        var appRows = s.Events.Where(e => EventKinds.IsDotnet(e.Kind));
        var tracker = new ConnectionTracker();
        tracker.ExpectApp(Pid);
        foreach (var e in kernel.Concat(appRows)) tracker.OnEvent(e);
        tracker.Complete();
        var port = TraceSummaryOf(tracker).Ports.Single();
        Assert.Equal(2, port.Connections);
        Assert.Equal((2L, 0L, 2L), (port.Dotnet!.Joined, port.Dotnet.Unjoined, port.Dotnet.Requests));
        Assert.Equal(2L, port.Dotnet.AcceptToApp.Count);
        Assert.InRange(port.Dotnet.AcceptToApp.Max, 1990, 2010); // each its own Kestrel start: 0.5 and 2 ms after its accept, not the first one twice
    }

    [Fact]
    public void Only_a_process_that_sends_connection_rows_holds_its_connections_for_them()
    {
        // the default session sends the pool, GC and refusals only: its accepted connections end as
        // the kernel's do; joined for its connections' rows (ExpectApp), they wait for them
        int Held(Action<ConnectionTracker, AppEventDecoder> before)
        {
            var s = new Scenario();
            var tracker = new ConnectionTracker(new TrackerOptions { Application = ApplicationRows.None }); // live, without -e first-read…
            var decoder = new AppEventDecoder(Web, new TrackerSink(tracker));
            before(tracker, decoder);
            s.Quick("10.0.0.1", 40001, 0, pid: Pid, comm: "web");
            for (int i = 0; i < 50; i++) s.Quick("10.0.0.9", (ushort)(50000 + i), 100 + i * 100, pid: 999); // 5 s more, another process
            foreach (var e in s.Events) tracker.OnEvent(e);
            return tracker.Following;
        }
        int none = Held((_, _) => { });
        Assert.Equal(none, Held((_, d) => { d.Counter(Scenario.Ms(0), "threadpool-thread-count", 4); d.Counter(Scenario.Ms(0), "threadpool-queue-length", 0); }));
        Assert.Equal(none + 1, Held((t, _) => t.ExpectApp(Pid)));
    }

    private sealed class TrackerSink(ConnectionTracker t) : IEventSink
    {
        public void OnEvent(in TcpqEvent e) => t.OnEvent(in e);
    }

    [Theory]
    [InlineData(null, AppDepth.Requests)] // no -e filter given to the attacher: every row
    [InlineData("default", AppDepth.Process)]
    [InlineData("default,app-conn", AppDepth.Connections)]
    [InlineData("app-close", AppDepth.Connections)]
    [InlineData("default,app-request", AppDepth.Requests)]
    [InlineData("all", AppDepth.Requests)]
    public void The_session_goes_as_deep_as_the_rows_asked_for(string? events, AppDepth depth)
    {
        var kinds = events is null ? null : TraceVerb.ParseKinds([events]);
        using var attacher = new DotnetAttacher(DotnetTarget.Auto, [], kinds, new ListSink([]));
        Assert.Equal(depth, attacher.Depth);
    }

    [Fact]
    public void The_default_session_leaves_kestrels_event_source_off_and_asks_the_runtime_for_pauses_and_adjustments()
    {
        // enabled at all, Kestrel's EventSource builds every request's payload: the default takes its refusals from its meter
        var providers = AppSession.Providers(AppDepth.Process);
        Assert.DoesNotContain(providers, p => p.Name == AppSession.KestrelProvider);
        var metrics = providers.Single(p => p.Name == AppSession.MetricsProvider);
        Assert.Equal(@"Microsoft.AspNetCore.Server.Kestrel\kestrel.rejected_connections", metrics.Arguments!["Metrics"]);
        var runtime = providers.Single(p => p.Name == AppSession.RuntimeProvider);
        Assert.True(runtime.EventFilter!.Enable);
        Assert.Equal([AppSession.RuntimeRestartEEStop, AppSession.RuntimeSuspendEEStart, AppSession.RuntimeThreadPoolAdjustment], runtime.EventFilter.EventIds);
        Assert.Equal([1u, 2, 5], AppSession.Providers(AppDepth.Connections).Single(p => p.Name == AppSession.KestrelProvider).EventFilter!.EventIds);
        Assert.Equal([1u, 2, 3, 4, 5], AppSession.Providers(AppDepth.Requests).Single(p => p.Name == AppSession.KestrelProvider).EventFilter!.EventIds);
        Assert.DoesNotContain(AppSession.Providers(AppDepth.Requests), p => p.Name == AppSession.MetricsProvider); // refusals as events, with their 4-tuple
        // an older runtime's fallback has no filters; still no Kestrel EventSource by default
        Assert.DoesNotContain(AppSession.Providers(AppDepth.Process, filtered: false), p => p.Name == AppSession.KestrelProvider || p.EventFilter != null);
        // the default actions leave Kestrel's per-connection rows out
        Assert.DoesNotContain(TraceVerb.DefaultKinds, EventKinds.IsAppConnection);
        Assert.Contains(EventKind.AppReject, TraceVerb.DefaultKinds);
    }

    [Fact]
    public void Kestrels_meter_refusals_are_one_row_a_second_with_the_count()
    {
        var (s, app) = Setup();
        app.Rejections(Scenario.Ms(1000), 0); // a quiet second: no row
        app.Rejections(Scenario.Ms(2000), 3);
        var e = Assert.Single(s.Events);
        Assert.Equal((EventKind.AppReject, DropReasons.ConnectionLimit, 3u, false), (e.Kind, e.Reason, e.Attempt, EventKinds.HasTuple(e)));
        for (int i = 0; i < 10; i++) s.Quick("10.0.0.1", (ushort)(43000 + i), i * 10, pid: Pid, comm: "web");
        Assert.StartsWith("Kestrel in web[812] refused 3 of 10 connections", Assert.Single(Diagnose(s), x => x.Rule == "kestrel-connection-limit").Text);
        var text = new StringWriter();
        new SummaryTextWriter(text, terminal: false).Write(s.Summarize());
        Assert.Contains("  app          web[812] · 3 refused by Kestrel's limit · its connections and requests not traced (-e app-conn,app-request)", text.ToString());
    }

    [Fact]
    public void The_dotnet_option_is_for_the_ebpf_backend_but_off_is_accepted_with_diag()
    {
        TraceOptions Diag(DotnetTarget d) => new([], EventFormat.Csv, null, null, null, Backend: TraceBackend.Diag) { Dotnet = d, Given = new HashSet<string> { "--dotnet" } };
        Assert.Equal(ExitCode.Usage, Assert.Throws<TcpqException>(() => Diag(DotnetTarget.Parse("42")).Validate()).Code);
        Diag(DotnetTarget.Off).Validate();
    }

    [Theory]
    [InlineData(null, true, null)] // auto by default: the default session costs the app within noise (bench/RESULTS.md)
    [InlineData("auto", true, null)]
    [InlineData("off", false, null)]
    [InlineData("4242", true, 4242)]
    public void The_dotnet_option_parses(string? text, bool enabled, int? pid) =>
        Assert.Equal(new DotnetTarget(enabled, pid), DotnetTarget.Parse(text));

    [Theory]
    [InlineData("on")]
    [InlineData("-1")]
    [InlineData("0")]
    public void A_bad_dotnet_option_is_a_usage_error(string text) =>
        Assert.Equal(ExitCode.Usage, Assert.Throws<TcpqException>(() => DotnetTarget.Parse(text)).Code);
}
