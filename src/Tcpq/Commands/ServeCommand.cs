using Tcpq.Aggregates;
using Tcpq.Bpf;
using Tcpq.Diag;
using Tcpq.Dotnet;
using Tcpq.Events;
using Tcpq.Serve;
using Tcpq.Serve.Web;
using Tcpq.Workloads;

namespace Tcpq.Commands;

/// <summary><c>tcpq serve</c>: counts every listener's connections into aggregates and serves them
/// as Prometheus metrics (and pushes them over OTLP when asked) until SIGINT, SIGTERM or --duration.</summary>
public sealed class ServeCommand(ServeOptions options, CommandConsole console)
{
    /// <summary>How stale a reading may be when a scrape or an export asks again.</summary>
    private static readonly TimeSpan MaxSnapshotAge = TimeSpan.FromSeconds(1);
    /// <summary>How often the loop reads on its own (to report losses, keep the OTLP histograms
    /// current, say who was joined and notice a source that failed): rarely, since a read of the
    /// kernel's aggregates walks their maps; scrapes read when they come.</summary>
    private static readonly TimeSpan ReadEvery = TimeSpan.FromSeconds(5);

    public int Run()
    {
        var web = options.WebConfigPath is { } path ? WebConfig.Load(path) : null;
        using var lifetime = new CommandLifetime(options.DurationSeconds);
        using var http = MetricsEndpoint.Start(options.Listen, web); // a port in use fails before anything is loaded
        DotnetAttacher.Check(options.Dotnet);
        var counted = OpenSource(options);
        // an event stream is pumped by the loop between reads; the kernel's own aggregates need nothing
        var stream = counted as EventStreamAggregateSource;
        // an event stream knows the queues as of its last event: read them now for the gauges
        if (stream is not null) counted = new LiveQueueSource(counted, new LiveListenerQueues(console.Error));
        using var source = WithWorkloads(options.Dotnet.Enabled ? new DotnetAggregateSource(counted, options.Dotnet, options.Ports, console.Error) : counted);
        string backend = options.Backend == TraceBackend.Diag ? "diag" : options.Source == ServeOptions.EbpfSource.Events ? "ebpf-events" : "ebpf";
        var cache = new SnapshotCache(source, MaxSnapshotAge);
        var expositions = new ExpositionCache(cache.Read, snapshot => PrometheusExposition.Render(snapshot, source.Reasons, backend, http.Auth));
        http.Serve(expositions.Read);
        using var otlp = options.OtlpEndpoint is { } endpoint
            ? new OtlpMetricsExport(OtlpMetricsExport.EndpointFor(endpoint, options.OtlpProtocol), options.OtlpProtocol,
                options.OtlpInterval ?? ServeOptions.DefaultOtlpInterval, cache.Read, source.Reasons, backend, dotnet: options.Dotnet.Enabled, headers: options.OtlpHeaders)
            : null;

        console.Error.WriteLine($"tcpq: serving metrics of {PortList.Text(options.Ports)} at {http.Url}" +
            (web?.Users is { Count: > 0 } ? " (basic auth)" : "") +
            (otlp is null ? "" : $", pushing OTLP to {RedactedUrl.Of(options.OtlpEndpoint!)}") +
            (options.Backend == TraceBackend.Diag ? " (diag backend: sampled, not exact)" : "") + "; Ctrl-C to stop");
        if (ExposureWarning(options.Listen, web) is { } warning) console.Error.WriteLine(warning);
        if (options.Backend == TraceBackend.Ebpf && !BpfProgramStats.KernelMeasures())
            console.Error.WriteLine("tcpq: kernel.bpf_stats_enabled is 0: tcpq_overhead_program_seconds_total is not exported (sysctl -w kernel.bpf_stats_enabled=1 to measure it)");

        otlp?.Start(console.Error);
        ulong lostReported = 0;
        var loop = new PollLoop(stream?.Pace ?? PollLoop.DefaultTick, lifetime.Token);
        if (stream is not null) loop.Pump(stream);
        loop.Every(ReadEvery, () =>
        {
            var snapshot = cache.Read(); // surfaces a source that failed
            if (snapshot.Cost.LostEvents > lostReported)
            {
                console.Error.WriteLine($"tcpq: lost {snapshot.Cost.LostEvents - lostReported} events (ring buffer full, or a packet's verdict missed: docs/accuracy.md), {snapshot.Cost.LostEvents} in all");
                lostReported = snapshot.Cost.LostEvents;
            }
        }).Run();
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

    /// <summary>Each listener's container and pod in every reading (--workloads), for the labels.</summary>
    private IAggregateSource WithWorkloads(IAggregateSource source) =>
        options.Workloads.Enabled ? new WorkloadAggregateSource(source, new WorkloadResolver(options.Workloads, console.Error)) : source;

    /// <summary>The one place a source is chosen: the kernel's own aggregates (per-CPU maps, no
    /// record per connection), the ring buffer's events counted here, or sock_diag sampled.</summary>
    internal static IAggregateSource OpenSource(ServeOptions options) => options.Backend switch
    {
        TraceBackend.Diag => EventStreamAggregateSource.Diag(options.Ports, options.Interval ?? CommonOptions.DefaultInterval, options.MaxListeners),
        _ when options.Source == ServeOptions.EbpfSource.Events => EbpfStart.OrSuggestDiag(() => EventStreamAggregateSource.Ebpf(
            new TraceConfig(options.Ports, EventKinds.Connection, options.RingBufferKb), DropReasons.FromKernel(), options.Verbose, options.MaxListeners)),
        _ => new ProgramCostSource(EbpfStart.OrSuggestDiag(() => KernelCounters.Start(options.Ports, DropReasons.FromKernel(), options.Verbose, options.LatencySample))),
    };
}
