using System.Diagnostics;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>
/// <c>tcpq trace --dotnet</c> on a real ASP.NET Core server (tests/Tcpq.KestrelApp) in a network
/// namespace: the thread-pool starvation finding on an endpoint that blocks pool threads, with the
/// default session; none on one that does not; Kestrel's rows joined to the kernel's by 4-tuple
/// when asked for (-e); Kestrel's refusals both ways; and a process without a diagnostics socket
/// still traced at the kernel level.
/// </summary>
public class DotnetTests
{
    /// <summary>Runs tcpq (auto) on the app's port while <paramref name="load"/> runs, and returns
    /// the rows and the summary (on stdout: the rows go to the file).</summary>
    private static (List<TraceRow> Rows, string Summary, IReadOnlyList<string> Stderr) Trace(KestrelApp app, Action load, bool expectJoin = true, string? events = null)
    {
        string[] args = ["-p", app.Port.ToString(), "--format", "json", "--summary", "--dotnet", "auto"];
        using var tcpq = TcpqTrace.Start(events is null ? args : [.. args, "-e", events]);
        if (expectJoin) WaitForStderr(tcpq, "tcpq: joined kestrel-app[", TimeSpan.FromSeconds(15));
        load();
        Thread.Sleep(1500); // the runtime's buffers, and one more counter sample
        Assert.Equal(0, tcpq.Stop());
        return (tcpq.Rows(), tcpq.Stdout, tcpq.Stderr);
    }

    private static void WaitForStderr(TcpqTrace tcpq, string start, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!tcpq.Stderr.Any(l => l.StartsWith(start, StringComparison.Ordinal)))
        {
            if (sw.Elapsed > timeout) throw new TimeoutException($"no '{start}' from tcpq: {string.Join(" | ", tcpq.Stderr)}");
            Thread.Sleep(50);
        }
    }

    [Fact]
    public void A_blocking_endpoint_under_load_makes_accept_queue_waits_and_a_starvation_finding_that_names_the_process()
    {
        // the default session: thread pool, GC, refusals; no Kestrel rows per connection
        using var ns = NetNamespace.Create();
        using var app = KestrelApp.Start(ns, Ports.Next());
        int served = 0;
        var (rows, summary, stderr) = Trace(app, () => served = app.Load("/block", clients: 40, perClient: 3, limit: TimeSpan.FromSeconds(25)));
        Assert.True(served > 0, "no request was served");
        Assert.Contains(stderr, l => l == $"tcpq: joined kestrel-app[{app.Pid}] through its diagnostics socket (thread pool, GC, Kestrel's refusals; -e app-conn,app-request for its connections)");

        var accepts = rows.Where(r => r.Action == "accept" && r.Pid == app.Pid).ToList();
        Assert.NotEmpty(accepts);
        Assert.Contains(accepts, a => a.WaitUs >= 10_000); // connections waited in the accept queue
        // the pool's work queued up: hill climbing, or starvation injections, grow it too slowly
        Assert.Contains(rows, r => r.Action == "app-pool" && r.Pid == app.Pid && r.Q >= 16 && r.NetNs == ns.Inode && r.Comm == "kestrel-app");
        Assert.DoesNotContain(rows, r => r.Action is "app-conn" or "app-request" or "app-close"); // not asked for

        // the whole summary when it fails: which half of the rule's evidence was missing
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(summary, $@"thread-pool-starvation: the thread pool of kestrel-app\[{app.Pid}\] was starved"), summary);
        Assert.Contains($"  app          kestrel-app[{app.Pid}] ·", summary);
    }

    [Fact]
    public void Asked_for_kestrels_rows_carry_the_kernels_4_tuple_and_the_kernels_clock()
    {
        using var ns = NetNamespace.Create();
        using var app = KestrelApp.Start(ns, Ports.Next());
        int served = 0;
        var (rows, summary, stderr) = Trace(app, () => served = app.Load("/block", clients: 8, perClient: 2, limit: TimeSpan.FromSeconds(20)), events: "all");
        Assert.Equal(16, served);
        Assert.Contains(stderr, l => l == $"tcpq: joined kestrel-app[{app.Pid}] through its diagnostics socket (Kestrel's connections and requests, thread pool, GC)");
        var accepts = rows.Where(r => r.Action == "accept" && r.Pid == app.Pid).ToList();
        Assert.Equal(16, accepts.Count);
        // every app-request belongs to an accepted connection: Kestrel's endpoints are the kernel's 4-tuple
        var accepted = accepts.Select(a => (a.SourcePort, a.DestPort)).ToHashSet();
        var requests = rows.Where(r => r.Action == "app-request").ToList();
        Assert.Equal(16, requests.Count);
        Assert.All(requests, r => Assert.Contains((r.SourcePort, r.DestPort), accepted));
        Assert.All(requests, r => Assert.True(r.WaitUs >= 100_000, $"a /block request took {r.WaitUs} µs")); // it sleeps 100 ms
        Assert.Equal(16, rows.Count(r => r.Action == "app-conn" && r.NetNs == ns.Inode && r.Comm == "kestrel-app"));
        // the app's clock is the kernel's: Kestrel starts each connection after accept() took it, and soon
        foreach (var conn in rows.Where(r => r.Action == "app-conn"))
            Assert.InRange(conn.Ts - accepts.Single(a => a.SourcePort == conn.SourcePort).Ts, 0, 30_000_000_000);
        Assert.Contains("  accept → Kestrel", summary);
        Assert.Contains("  first request", summary);
    }

    [Fact]
    public void A_healthy_endpoint_under_the_same_load_has_no_starvation_finding()
    {
        using var ns = NetNamespace.Create();
        using var app = KestrelApp.Start(ns, Ports.Next());
        int served = 0;
        var (rows, summary, _) = Trace(app, () => served = app.Load("/ok", clients: 40, perClient: 3, limit: TimeSpan.FromSeconds(25)), events: "default,app-conn,app-request,app-close");
        Assert.Equal(120, served);
        Assert.Equal(120, rows.Count(r => r.Action == "app-request" && r.Pid == app.Pid));
        Assert.DoesNotContain("thread-pool-starvation", summary);
        // every connection joined, those whose client reconnected from the same port at once too
        // (the server closes first, so the client's port is free; its app rows come later)
        var joined = System.Text.RegularExpressions.Regex.Match(summary, $@"  app          kestrel-app\[{app.Pid}\] · (\d+) connections joined · 120 requests");
        Assert.True(joined.Success, summary);
        Assert.Equal(120, int.Parse(joined.Groups[1].Value));
    }

    [Fact]
    public void A_process_in_a_container_is_joined_through_proc_pid_root_by_the_pid_it_knows_itself_by()
    {
        using var ns = NetNamespace.Create();
        using var app = KestrelApp.Start(ns, Ports.Next(), container: true);
        var status = File.ReadAllLines($"/proc/{app.Pid}/status").Single(l => l.StartsWith("NSpid:", StringComparison.Ordinal));
        Assert.EndsWith("\t1", status); // pid 1 in its own pid namespace
        Assert.Empty(Directory.GetFileSystemEntries(app.ContainerTmp!)); // its socket is in its own TMPDIR, a tmpfs the host does not see
        Assert.NotEmpty(Directory.GetFileSystemEntries($"/proc/{app.Pid}/root{app.ContainerTmp}", "dotnet-diagnostic-1-*-socket"));
        var (rows, summary, _) = Trace(app, () => app.Load("/ok", clients: 4, perClient: 2, limit: TimeSpan.FromSeconds(15)));
        Assert.Equal(8, rows.Count(r => r.Action == "accept" && r.Pid == app.Pid));
        Assert.Contains(rows, r => r.Action == "app-pool" && r.Pid == app.Pid); // the host's pid on the app's rows
        Assert.Contains($"  app          kestrel-app[{app.Pid}] ·", summary);
    }

    [Fact]
    public void A_process_without_the_diagnostics_socket_is_traced_in_the_kernel_with_one_line_saying_so()
    {
        using var ns = NetNamespace.Create();
        using var app = KestrelApp.Start(ns, Ports.Next(), diagnostics: false);
        var (rows, summary, stderr) = Trace(app, () => app.Load("/ok", clients: 4, perClient: 2, limit: TimeSpan.FromSeconds(15)), expectJoin: false);
        Assert.Equal(8, rows.Count(r => r.Action == "accept" && r.Pid == app.Pid));
        Assert.DoesNotContain(rows, r => r.Action.StartsWith("app-", StringComparison.Ordinal));
        var line = Assert.Single(stderr, l => l.Contains("diagnostics socket"));
        Assert.Equal($"tcpq: kestrel-app[{app.Pid}] is a .NET process without a diagnostics socket (DOTNET_EnableDiagnostics=0?): its app side is unavailable, kernel rows only", line);
        Assert.DoesNotContain("  app ", summary);
    }

    [Theory]
    [InlineData(null)]  // the default session: Kestrel's meter, a row a second for the process with the count
    [InlineData("all")] // Kestrel's events: a row per refused connection, with its 4-tuple
    public void Kestrels_connection_limit_refusals_are_app_reject_rows_and_a_finding(string? events)
    {
        using var ns = NetNamespace.Create();
        using var app = KestrelApp.Start(ns, Ports.Next(), maxConnections: 2);
        var (rows, summary, _) = Trace(app, () => app.Load("/block", clients: 8, perClient: 1, limit: TimeSpan.FromSeconds(15)), events: events);
        var rejects = rows.Where(r => r.Action == "app-reject" && r.Reason == "connection-limit" && r.Pid == app.Pid).ToList();
        Assert.NotEmpty(rejects);
        if (events is null) Assert.All(rejects, r => Assert.True(r.SourceIp == "" && r.SourcePort == 0 && r.Attempt >= 1, "a meter row: no 4-tuple, the count"));
        else Assert.All(rejects, r => Assert.Contains(rows, a => a.Action == "accept" && a.SourcePort == r.SourcePort));
        long refused = events is null ? rejects.Sum(r => (long)r.Attempt!) : rejects.Count;
        var m = System.Text.RegularExpressions.Regex.Match(summary, $@"kestrel-connection-limit: Kestrel in kestrel-app\[{app.Pid}\] refused (\d+) of 8 connections");
        Assert.True(m.Success, summary);
        Assert.Equal(refused, long.Parse(m.Groups[1].Value));
        Assert.InRange(refused, 1, 6); // 8 clients, a limit of 2
    }

    [Fact]
    public void Serve_exports_the_thread_pool_gc_and_kestrels_refusals_of_the_app_behind_a_served_port()
    {
        using var ns = NetNamespace.Create();
        using var app = KestrelApp.Start(ns, Ports.Next(), maxConnections: 2);
        using var serve = TcpqServe.Start("-p", app.Port.ToString(), "--dotnet", "auto");
        var sw = Stopwatch.StartNew();
        while (!serve.Stderr.Any(l => l.StartsWith($"tcpq: joined kestrel-app[{app.Pid}]", StringComparison.Ordinal)))
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(15), string.Join(" | ", serve.Stderr));
            Thread.Sleep(50);
            serve.Metrics(); // a scrape takes in what the session sent, and says who was joined
        }
        int served = app.Load("/block", clients: 8, perClient: 1, limit: TimeSpan.FromSeconds(15));
        Thread.Sleep(2500); // the meter's and the counters' next one-second publication
        var metrics = serve.Metrics();
        string who = $"pid=\"{app.Pid}\",comm=\"kestrel-app\"";
        Assert.True(TcpqServe.Sum(metrics, "tcpq_dotnet_threadpool_threads", who) >= 1, metrics);
        Assert.Contains($"tcpq_dotnet_threadpool_queued_work_items{{{who}}} ", metrics);
        Assert.Contains($"tcpq_dotnet_threadpool_injections_total{{{who},reason=\"starvation\"}} ", metrics);
        Assert.Contains($"tcpq_dotnet_gc_pauses_total{{{who}}} ", metrics);
        double rejected = TcpqServe.Sum(metrics, "tcpq_dotnet_kestrel_rejected_connections_total", who);
        Assert.Equal(8 - served, (int)rejected); // 8 clients, a limit of 2: each one refused is one not served
        Assert.InRange(rejected, 1, 6);
        Assert.Equal(0, serve.Stop());
    }

    [Fact]
    public void Top_shows_a_line_for_the_app_behind_a_watched_port_with_its_pool_and_injections()
    {
        using var ns = NetNamespace.Create();
        using var app = KestrelApp.Start(ns, Ports.Next());
        using var top = PipedTcpq.Start(["top", "-p", app.Port.ToString(), "--interval", "500ms"]);
        var load = new Thread(() => app.Load("/block", clients: 40, perClient: 2, limit: TimeSpan.FromSeconds(20)));
        var lines = new List<string>();
        var sw = Stopwatch.StartNew();
        bool loading = false;
        string? line;
        while (sw.Elapsed < TimeSpan.FromSeconds(40) && (line = top.ReadLine(TimeSpan.FromSeconds(5))) != null)
        {
            lines.Add(line);
            if (!loading && line.StartsWith($"  app kestrel-app[{app.Pid}] · pool ", StringComparison.Ordinal)) { load.Start(); loading = true; }
            // the pool under a blocking load: work queued up (16 or more: starvation's mark), or threads injected
            if (loading && System.Text.RegularExpressions.Regex.Match(line, $@"^  app kestrel-app\[{app.Pid}\] · pool \d+ threads?, (\d+) work items? queued · (\+\d+|no) threads? injected") is { Success: true } m
                && (int.Parse(m.Groups[1].Value) >= 16 || m.Groups[2].Value != "no")) break;
        }
        Assert.True(loading, string.Join("\n", lines.TakeLast(20)));
        Assert.Matches($@"^  app kestrel-app\[{app.Pid}\] · pool \d+ threads?, \d+ work items? queued · (\+\d+ threads? injected \(\d+ starvation, \d+ blocking\)|no threads injected) · (no GC pause|\d+ GC pauses?, [\d.]+ ms) · \d+ refused by Kestrel \(in the interval\)$", lines[^1]);
        // and top's diagnosis, from the kernel's aggregates and the app's pool, names it
        string? diagnosis = null;
        while (diagnosis is null && sw.Elapsed < TimeSpan.FromSeconds(50) && (line = top.ReadLine(TimeSpan.FromSeconds(5))) != null)
            if (line.Contains($"thread-pool-starvation (", StringComparison.Ordinal)) diagnosis = line;
        Assert.NotNull(diagnosis);
        Assert.Contains($"the thread pool of kestrel-app[{app.Pid}] was starved", diagnosis);
        load.Join();
    }

    [Fact]
    public void A_joined_process_that_exits_while_traced_is_said_in_one_line_and_the_trace_goes_on()
    {
        using var ns = NetNamespace.Create();
        var app = KestrelApp.Start(ns, Ports.Next());
        int pid = app.Pid;
        using var tcpq = TcpqTrace.Start(["-p", app.Port.ToString(), "--format", "json", "--dotnet", "auto"]);
        WaitForStderr(tcpq, $"tcpq: joined kestrel-app[{pid}]", TimeSpan.FromSeconds(15));
        app.Dispose(); // killed
        WaitForStderr(tcpq, $"tcpq: kestrel-app[{pid}]'s diagnostics session ended (the process exited?)", TimeSpan.FromSeconds(15));
        Assert.Equal(0, tcpq.Stop());
        Assert.Single(tcpq.Stderr, l => l.Contains("diagnostics session ended"));
    }

    [Fact]
    public void Dotnet_off_joins_nothing()
    {
        using var ns = NetNamespace.Create();
        using var app = KestrelApp.Start(ns, Ports.Next());
        using var tcpq = TcpqTrace.Start(["-p", app.Port.ToString(), "--format", "json", "--dotnet", "off"]);
        app.Load("/ok", clients: 2, perClient: 2, limit: TimeSpan.FromSeconds(10));
        var rows = tcpq.WaitFor(r => r.Count(x => x.Action == "accept") >= 4, TimeSpan.FromSeconds(10));
        Thread.Sleep(1000);
        Assert.Equal(0, tcpq.Stop());
        Assert.DoesNotContain(tcpq.Rows(), r => r.Action.StartsWith("app-", StringComparison.Ordinal));
        Assert.DoesNotContain(tcpq.Stderr, l => l.Contains("joined"));
    }
}
