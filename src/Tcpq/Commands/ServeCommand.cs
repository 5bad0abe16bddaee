using Tcpq.Aggregates;
using Tcpq.Bpf;
using Tcpq.Diag;
using Tcpq.Dotnet;
using Tcpq.Events;
using Tcpq.Serve;
using Tcpq.Serve.Web;
using Tcpq.Spans;
using Tcpq.Workloads;

namespace Tcpq.Commands;

/// <summary><c>tcpq serve</c>: counts every listener's connections into aggregates and serves them
/// as Prometheus metrics (and pushes them over OTLP when asked) until SIGINT, SIGTERM or --duration.</summary>
/// <param name="spanSink">Where --spans-slower-than's traces go; default: the OTLP exporter
/// (<see cref="OtlpSpanSink"/>). A test passes one that records them.</param>
public sealed class ServeCommand(ServeOptions options, CommandConsole console, Func<IConnectionSpanSink>? spanSink = null)
{
    /// <summary>The bound endpoint, once Run has bound it (for a test running serve in-process).</summary>
    public System.Net.IPEndPoint? Bound { get; private set; }

    /// <summary>How stale a reading may be when a scrape or an export asks again.</summary>
    private static readonly TimeSpan MaxSnapshotAge = TimeSpan.FromSeconds(1);
    /// <summary>How often the loop reads on its own (to report losses, keep the OTLP histograms
    /// current, say who was joined and notice a source that failed): rarely, since a read of the
    /// kernel's aggregates walks their maps; scrapes read when they come.</summary>
    private static readonly TimeSpan ReadEvery = TimeSpan.FromSeconds(5);

    /// <param name="stop">Also stops it (a test running serve in-process).</param>
    public int Run(CancellationToken stop = default)
    {
        var web = options.WebConfigPath is { } path ? WebConfig.Load(path) : null;
        using var lifetime = new CommandLifetime(options.DurationSeconds);
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(lifetime.Token, stop);
        using var http = MetricsEndpoint.Start(options.Listen, web); // a port in use fails before anything is loaded
        Bound = http.Bound;
        DotnetAttacher.Check(options.Dotnet);
        var sink = options.SpansSlowerThan is null ? null : (spanSink ?? (() => OtlpSpanSink(options)))();
        using var sinkLifetime = sink as IDisposable; // the exporter sends what it holds as it is disposed
        var counted = OpenSource(options, out var spanRecords);
        // an event stream is pumped by the loop between reads; the kernel's own aggregates need nothing
        var stream = counted as EventStreamAggregateSource;
        // an event stream knows the queues as of its last event: read them now for the gauges
        if (stream is not null) counted = new LiveQueueSource(counted, new LiveListenerQueues(console.Error));
        using var source = WithWorkloads(options.Dotnet.Enabled ? new DotnetAggregateSource(counted, options.Dotnet, options.Ports, console.Error) : counted);
        string backend = options.Backend == TraceBackend.Diag ? "diag" : options.Source == ServeOptions.EbpfSource.Events ? "ebpf-events" : "ebpf";
        var cache = new SnapshotCache(source, MaxSnapshotAge);
        var expositions = new ExpositionCache(cache.Read, snapshot => PrometheusExposition.Render(snapshot, source.Reasons, backend, http.Auth));
        var spans = options.SpansSlowerThan is null ? null
            : new SlowConnectionSpans(spanRecords, sink!, options.SpansMaxRate, WallClock.System());
        if (spans is null)
            http.Serve(expositions.Read);
        else // the spans' own counters after the reading; exemplars only in OpenMetrics, for a scraper that asks for it
        {
            var withSpans = new SpanExpositionCache(expositions.Read, spans);
            http.Serve(withSpans.Text, withSpans.OpenMetrics);
        }
        using var otlp = options.OtlpEndpoint is { } endpoint
            ? new OtlpMetricsExport(OtlpMetricsExport.EndpointFor(endpoint, options.OtlpProtocol), options.OtlpProtocol,
                options.OtlpInterval ?? ServeOptions.DefaultOtlpInterval, cache.Read, source.Reasons, backend, dotnet: options.Dotnet.Enabled, headers: options.OtlpHeaders)
            : null;

        console.Error.WriteLine($"tcpq: serving metrics of {PortList.Text(options.Ports)} at {http.Url}" +
            (web?.Users is { Count: > 0 } ? " (basic auth)" : "") +
            (otlp is null ? "" : $", pushing OTLP to {RedactedUrl.Of(options.OtlpEndpoint!)}") +
            (options.Backend == TraceBackend.Diag ? " (diag backend: sampled, not exact)" : "") +
            (spans is null ? "" : $"; connections slower than {options.SpansSlowerThan!.Value.TotalMilliseconds:0.###} ms, dropped or retried become traces") + "; Ctrl-C to stop");
        if (ExposureWarning(options.Listen, web) is { } warning) console.Error.WriteLine(warning);
        if (options.Backend == TraceBackend.Ebpf && !BpfProgramStats.KernelMeasures())
            console.Error.WriteLine("tcpq: kernel.bpf_stats_enabled is 0: tcpq_overhead_program_seconds_total is not exported (sysctl -w kernel.bpf_stats_enabled=1 to measure it)");

        otlp?.Start(console.Error);
        ulong lostReported = 0;
        var loop = new PollLoop(stream?.Pace ?? PollLoop.DefaultTick, stopping.Token);
        if (stream is not null) loop.Pump(stream);
        if (spans is not null) loop.EveryTick(() => spans.Poll());
        loop.Every(ReadEvery, () =>
        {
            var snapshot = cache.Read(); // surfaces a source that failed
            if (snapshot.Cost.LostEvents > lostReported)
            {
                console.Error.WriteLine($"tcpq: lost {snapshot.Cost.LostEvents - lostReported} events (ring buffer full, or a packet's verdict missed: docs/accuracy.md), {snapshot.Cost.LostEvents} in all");
                lostReported = snapshot.Cost.LostEvents;
            }
        }).Run();
        spans?.Poll(); // what the kernel sent before the stop
        if (otlp is not null && !otlp.Flush(TimeSpan.FromSeconds(5)))
            console.Error.WriteLine($"tcpq: the last OTLP push to {RedactedUrl.Of(options.OtlpEndpoint!)} did not complete");
        console.Error.WriteLine($"tcpq: stopped after {http.Scrapes} scrapes");
        return (int)ExitCode.Ok;
    }

    /// <summary>One line when the metrics are reachable beyond this machine without TLS and auth.</summary>
    internal static string? ExposureWarning(System.Net.IPEndPoint listen, WebConfig? web)
    {
        if (System.Net.IPAddress.IsLoopback(listen.Address)) return null;
        if (web?.Tls is null && web?.Users is not { Count: > 0 })
            return $"tcpq: warning: serving {MetricsEndpoint.Text(listen)} beyond loopback without --web-config: anyone who reaches it reads the metrics, unencrypted (docs/serve.md: TLS and basic auth)";
        if (web.Tls is null)
            return $"tcpq: warning: basic auth on {MetricsEndpoint.Text(listen)} without TLS: passwords cross the network readable (add tls_server_config)";
        return null;
    }

    /// <summary>The one place serve's traces meet the OTLP span exporter (Spans/ConnectionSpanExporter),
    /// to the same endpoint as the metrics, on its traces path.</summary>
    private static IConnectionSpanSink OtlpSpanSink(ServeOptions options) =>
        new ConnectionSpanExporter((options.SpansTarget ?? throw new TcpqException(ExitCode.Usage, "--spans-slower-than needs --otlp-endpoint")).ExporterOptions(), WallClock.System());

    /// <summary>Each listener's container and pod in every reading (--workloads), for the labels.</summary>
    private IAggregateSource WithWorkloads(IAggregateSource source) =>
        options.Workloads.Enabled ? new WorkloadAggregateSource(source, new WorkloadResolver(options.Workloads, console.Error)) : source;

    /// <summary>The one place a source is chosen: the kernel's own aggregates (per-CPU maps, no
    /// record per connection), the ring buffer's events counted here, or sock_diag sampled.</summary>
    /// <param name="spans">The kernel's records of slow connections, with --spans-slower-than.</param>
    internal static IAggregateSource OpenSource(ServeOptions options, out SpanRecords? spans)
    {
        spans = null;
        switch (options.Backend)
        {
            case TraceBackend.Diag:
                return EventStreamAggregateSource.Diag(options.Ports, options.Interval ?? CommonOptions.DefaultInterval, options.MaxListeners);
            case TraceBackend.Ebpf when options.Source == ServeOptions.EbpfSource.Events:
                return EbpfStart.OrSuggestDiag(() => EventStreamAggregateSource.Ebpf(
                    new TraceConfig(options.Ports, EventKinds.Connection, options.RingBufferKb), DropReasons.FromKernel(), options.Verbose, options.MaxListeners));
            default:
                var counters = EbpfStart.OrSuggestDiag(() => KernelCounters.Start(options.Ports, DropReasons.FromKernel(), options.Verbose, options.LatencySample, options.SpansSlowerThan));
                spans = counters.Spans;
                return new ProgramCostSource(counters);
        }
    }
}
