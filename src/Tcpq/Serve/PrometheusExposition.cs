using System.Globalization;
using System.Text;
using Tcpq.Aggregates;
using Tcpq.Events;

namespace Tcpq.Serve;

/// <summary>
/// Writes a snapshot in Prometheus's text exposition format (version 0.0.4): per listener the
/// counters of <see cref="ListenerMetrics"/>, the queues as gauges, the latency histograms with
/// cumulative power-of-two buckets and their exact sums; then what tcpq itself costs. Written by
/// hand rather than through a metrics library: the figures are already aggregated (by the kernel,
/// or by <see cref="EventAggregator"/>), and no .NET library takes pre-aggregated histogram buckets.
/// </summary>
public static class PrometheusExposition
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Write(AggregateSnapshot snapshot, DropReasons reasons, string backend) =>
        Build(snapshot, reasons, backend).ToString();

    /// <summary>The exposition as the endpoint serves it: UTF-8, shared by every scraper of this reading.</summary>
    /// <param name="auth">The endpoint's basic auth, whose cost is exported (null without one).</param>
    public static RenderedExposition Render(AggregateSnapshot snapshot, DropReasons reasons, string backend, Web.BasicAuthCheck? auth = null) =>
        new(RenderedExposition.Utf8(Build(snapshot, reasons, backend, auth)));

    private static StringBuilder Build(AggregateSnapshot snapshot, DropReasons reasons, string backend, Web.BasicAuthCheck? auth = null)
    {
        var w = new StringBuilder(4096);
        var listeners = Ordered(snapshot);

        foreach (var c in ListenerMetrics.Counters)
        {
            Family(w, c.Prometheus, "counter", c.Help);
            foreach (var (a, labels) in listeners) Sample(w, c.Prometheus, labels, c.Value(a));
        }
        foreach (var r in ListenerMetrics.Reasons)
        {
            Family(w, r.Prometheus, "counter", r.Help);
            foreach (var (a, labels) in listeners)
                foreach (var (segment, reason, count) in r.Values(a).OrderBy(v => v.Segment).ThenBy(v => v.Reason))
                {
                    string name = reason == 0 ? "unknown" : reasons.Name(reason);
                    Sample(w, r.Prometheus, labels + (segment is null ? "" : Label("segment", segment)) + Label("reason", name), count);
                }
        }
        foreach (var g in ListenerMetrics.Gauges)
        {
            Family(w, g.Prometheus, "gauge", g.Help);
            foreach (var (a, labels) in listeners)
                if (ListenerMetrics.Shows(g, snapshot, a)) Sample(w, g.Prometheus, labels, g.Value(a));
        }
        foreach (var h in ListenerMetrics.Histograms)
        {
            var with = listeners.Where(l => h.Value(l.Aggregate).Count > 0).ToList();
            if (with.Count == 0) continue; // a histogram this source does not fill is left out, not shown as zeros
            Family(w, h.Prometheus, "histogram", h.Help + " Bucket bounds are powers of two µs, exact.");
            foreach (var (a, labels) in with) Histogram(w, h.Prometheus, labels, h.Value(a));
        }
        if (snapshot.Apps.Count > 0) WriteApps(w, snapshot.Apps);
        WriteCost(w, snapshot, backend, listeners.Count);
        if (auth is not null)
        {
            Family(w, "tcpq_http_auth_hashes_total", "counter", "bcrypt runs of the endpoint's basic auth (one at a time; a right password is remembered and hashed once).");
            Sample(w, "tcpq_http_auth_hashes_total", "", auth.Hashes);
            Family(w, "tcpq_http_auth_busy_total", "counter", "Requests answered 429 without a bcrypt run, because too many password checks were waiting.");
            Sample(w, "tcpq_http_auth_busy_total", "", auth.BusyRefusals);
        }
        return w;
    }

    /// <summary>The .NET processes joined (--dotnet): their thread pools, GC pauses and Kestrel's
    /// refusals, labelled by pid and comm (the listeners' series carry no process).</summary>
    private static void WriteApps(StringBuilder w, IReadOnlyList<AppReading> apps)
    {
        static string L(AppReading a) => Label("pid", a.Pid.ToString(CultureInfo.InvariantCulture)) + Label("comm", a.Comm);
        var sampled = apps.Where(a => a.PoolSamples > 0).ToList();
        if (sampled.Count > 0)
        {
            Family(w, "tcpq_dotnet_threadpool_threads", "gauge", "Threads of the .NET process's thread pool at its last sample (System.Runtime counters, once a second).");
            foreach (var a in sampled) Sample(w, "tcpq_dotnet_threadpool_threads", L(a), a.Threads);
            Family(w, "tcpq_dotnet_threadpool_queued_work_items", "gauge", "Work items queued in the .NET process's thread pool at its last sample: 16 or more for seconds while the accept queue waits is starvation.");
            foreach (var a in sampled) Sample(w, "tcpq_dotnet_threadpool_queued_work_items", L(a), a.QueuedWorkItems);
        }
        Family(w, "tcpq_dotnet_threadpool_injections_total", "counter", "Threads the .NET thread pool added because work starved (reason starvation) or pool threads blocked on tasks (cooperative-blocking).");
        foreach (var a in apps)
        {
            Sample(w, "tcpq_dotnet_threadpool_injections_total", L(a) + Label("reason", "starvation"), a.StarvationInjections);
            Sample(w, "tcpq_dotnet_threadpool_injections_total", L(a) + Label("reason", "cooperative-blocking"), a.BlockingInjections);
        }
        Family(w, "tcpq_dotnet_gc_pauses_total", "counter", "GC pauses of the .NET process (the runtime's suspension to its restart): every managed thread, the accept loop too, stops.");
        foreach (var a in apps) Sample(w, "tcpq_dotnet_gc_pauses_total", L(a), a.GcPauses);
        Family(w, "tcpq_dotnet_gc_pause_seconds_total", "counter", "Time the .NET process spent in GC pauses.");
        foreach (var a in apps) Sample(w, "tcpq_dotnet_gc_pause_seconds_total", L(a), a.GcPauseSeconds);
        Family(w, "tcpq_dotnet_kestrel_rejected_connections_total", "counter", "Connections Kestrel refused because MaxConcurrentConnections was reached (its meter kestrel.rejected_connections).");
        foreach (var a in apps) Sample(w, "tcpq_dotnet_kestrel_rejected_connections_total", L(a), a.KestrelRejected);
    }

    private static void WriteCost(StringBuilder w, AggregateSnapshot snapshot, string backend, int listenerSeries)
    {
        var cost = snapshot.Cost;
        Family(w, "tcpq_events_lost_total", "counter", "Events the kernel could not hand to tcpq (ring buffer full), or packets whose verdict it missed: the counters above miss them.");
        Sample(w, "tcpq_events_lost_total", "", (long)cost.LostEvents);
        Family(w, "tcpq_listeners_overflowed_total", "counter", "Listeners past the listener limit, merged into server_address=\"other\".");
        Sample(w, "tcpq_listeners_overflowed_total", "", cost.ListenersOverflowed);
        if (cost.LatencySampleRatio is double ratio)
        {
            Family(w, "tcpq_latency_sample_ratio", "gauge", "The share of accepts in tcpq_accept_queue_wait_seconds and tcpq_syn_to_accept_seconds: counting mode measures them while its accept hooks are attached, in windows (--latency-sample, 100 ms in every second by default: a syscall hook slows every syscall of the machine while attached).");
            Sample(w, "tcpq_latency_sample_ratio", "", ratio);
        }
        Family(w, "tcpq_listeners", "gauge", "Listeners exported (the series per metric), \"other\" included.");
        Sample(w, "tcpq_listeners", "", listenerSeries);
        if (cost.ProgramRunTime is TimeSpan runTime)
        {
            // only while the kernel measures (kernel.bpf_stats_enabled=1): a 0 would read as "free"
            Family(w, "tcpq_overhead_program_seconds_total", "counter", "Time the kernel spent running tcpq's BPF programs (kernel.bpf_stats_enabled=1).");
            Sample(w, "tcpq_overhead_program_seconds_total", "", runTime.TotalSeconds);
            Family(w, "tcpq_overhead_program_runs_total", "counter", "Runs of tcpq's BPF programs (kernel.bpf_stats_enabled=1).");
            Sample(w, "tcpq_overhead_program_runs_total", "", cost.ProgramRuns);
        }
        Family(w, "tcpq_info", "gauge", "Where tcpq's figures come from: backend ebpf (the kernel's aggregates), ebpf-events (the ring buffer's events; both exact) or diag (sampled).");
        Sample(w, "tcpq_info", Label("backend", backend) + Label("version", Version), 1);
    }

    private static readonly string Version =
        typeof(PrometheusExposition).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>Listeners in a stable order with their label text; "other" last.</summary>
    private static List<(ListenerAggregate Aggregate, string Labels)> Ordered(AggregateSnapshot snapshot)
    {
        var list = snapshot.Listeners
            .OrderBy(a => a.Key.NetNs).ThenBy(a => a.Key.Port).ThenBy(a => a.Key.Address)
            .Select(a => (a, ListenerLabels(a.Key) + WorkloadLabels(snapshot.Workloads.GetValueOrDefault(a.Key))))
            .ToList();
        if (snapshot.OtherListeners is { } other) list.Add((other, Label("server_address", ListenerMetrics.Other)));
        return list;
    }

    public static string ListenerLabels(in ListenerKey key) =>
        Label("server_address", key.AddressText) +
        Label("server_port", key.Port.ToString(CultureInfo.InvariantCulture)) +
        Label("network_type", ListenerMetrics.NetworkType(key)) +
        Label("netns", key.NetNs.ToString(CultureInfo.InvariantCulture));

    /// <summary>Where the listener runs, under OpenTelemetry's names as Prometheus spells them;
    /// nothing for the host's. A function of the listener, so no series is added.</summary>
    public static string WorkloadLabels(Workload? workload)
    {
        if (workload is null) return "";
        var labels = new StringBuilder();
        foreach (var (_, name, value) in workload.Attributes()) labels.Append(Label(name, value));
        return labels.ToString();
    }

    private static void Histogram(StringBuilder w, string name, string labels, Log2Histogram h)
    {
        var cumulative = ListenerMetrics.Cumulative(h);
        for (int i = 0; i < ListenerMetrics.BucketBounds.Length; i++)
            Sample(w, name + "_bucket", labels + Label("le", Seconds(ListenerMetrics.BoundSeconds(ListenerMetrics.BucketBounds[i]))), cumulative[i]);
        Sample(w, name + "_bucket", labels + Label("le", "+Inf"), cumulative[^1]);
        Sample(w, name + "_sum", labels, h.SumNs / 1e9);
        Sample(w, name + "_count", labels, h.Count);
    }

    private static void Family(StringBuilder w, string name, string type, string help) =>
        w.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(help)).Append('\n')
         .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder w, string name, string labels, long value) =>
        Open(w, name, labels).Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');

    private static void Sample(StringBuilder w, string name, string labels, double value) =>
        Open(w, name, labels).Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');

    private static StringBuilder Open(StringBuilder w, string name, string labels)
    {
        w.Append(name);
        if (labels.Length > 0) w.Append('{').Append(labels, 0, labels.Length - 1).Append('}');
        return w.Append(' ');
    }

    /// <summary><c>name="value",</c> with the value escaped (the trailing comma is cut when the set is closed).</summary>
    public static string Label(string name, string value) => $"{name}=\"{EscapeLabel(value)}\",";

    /// <summary>Label values escape backslash, double quote and line feed.</summary>
    public static string EscapeLabel(string value) =>
        value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    /// <summary>HELP text escapes backslash and line feed.</summary>
    public static string EscapeHelp(string value) => value.Replace("\\", "\\\\").Replace("\n", "\\n");

    /// <summary>2^k µs in seconds, in plain decimals (at most 6 places): 0.000008 … 33.554432.</summary>
    public static string Seconds(double s) => s.ToString("0.######", CultureInfo.InvariantCulture);
}
