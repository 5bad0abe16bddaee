using Tcpq.Aggregates;
using Tcpq.Bpf;
using Tcpq.Dotnet;
using Tcpq.Events;
using Tcpq.Serve;
using Tcpq.Workloads;

namespace Tcpq.Commands;

/// <summary><c>tcpq serve</c>: counts every listener's connections into aggregates and serves them
/// as Prometheus metrics (and pushes them over OTLP when asked) until SIGINT, SIGTERM or --duration.</summary>
public sealed class ServeCommand(ServeOptions options, CommandConsole console)
{
    /// <summary>How stale a reading may be when a scrape or an export asks again.</summary>
    private static readonly TimeSpan MaxSnapshotAge = TimeSpan.FromSeconds(1);
    /// <summary>How often the loop reads on its own (to report losses, keep the OTLP histograms
    /// current and notice a source that failed): rarely, since a read of the kernel's aggregates
    /// walks their maps; scrapes read when they come. A signal ends the wait at once.</summary>
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(5);

    public int Run()
    {
        using var lifetime = new CommandLifetime(options.DurationSeconds);
        using var http = MetricsHttpServer.Bind(options.Listen); // a port in use fails before anything is loaded
        using var source = OpenSource(options);
        string backend = options.Backend == TraceBackend.Diag ? "diag" : options.Source == ServeOptions.EbpfSource.Events ? "ebpf-events" : "ebpf";
        var cache = new SnapshotCache(source, MaxSnapshotAge);
        DotnetAttacher.Check(options.Dotnet);
        using var dotnet = new DotnetWatch(options.Dotnet, options.Ports, console.Error);
        using var workloads = options.Workloads.Enabled ? new WorkloadResolver(options.Workloads, console.Error) : null;
        Func<AggregateSnapshot, Func<ListenerKey, Workload?>>? workloadsOf = workloads is null ? null : s => workloads.For(s.Listeners.Select(l => l.Key));
        http.Serve(() =>
        {
            var snapshot = cache.Read();
            return PrometheusExposition.Write(snapshot, source.Reasons, backend, dotnet.Active ? dotnet.Read() : null, workloadsOf?.Invoke(snapshot));
        });
        using var otlp = options.OtlpEndpoint is { } endpoint
            ? new OtlpMetricsExport(OtlpMetricsExport.EndpointFor(endpoint, options.OtlpProtocol), options.OtlpProtocol,
                options.OtlpInterval ?? ServeOptions.DefaultOtlpInterval, cache.Read, source.Reasons, backend, dotnet.Active ? dotnet.Read : null, workloadsOf)
            : null;

        console.Error.WriteLine($"tcpq: serving metrics of {PortList.Text(options.Ports)} at http://{MetricsHttpServer.Text(http.Bound)}/metrics" +
            (otlp is null ? "" : $", pushing OTLP to {options.OtlpEndpoint}") +
            (options.Backend == TraceBackend.Diag ? " (diag backend: sampled, not exact)" : "") + "; Ctrl-C to stop");
        if (options.Backend == TraceBackend.Ebpf && !BpfProgramStats.KernelMeasures())
            console.Error.WriteLine("tcpq: kernel.bpf_stats_enabled is 0: tcpq_overhead_program_seconds_total is not exported (sysctl -w kernel.bpf_stats_enabled=1 to measure it)");

        dotnet.Start();
        ulong lostReported = 0;
        while (!lifetime.Token.WaitHandle.WaitOne(Tick))
        {
            if (dotnet.Active) { dotnet.Rescan(); dotnet.Read(); } // say who was joined, between scrapes too
            var snapshot = cache.Read(); // surfaces a source that failed, and keeps the OTLP histograms current
            otlp?.ReplayHistograms();
            if (snapshot.Cost.LostEvents > lostReported)
            {
                console.Error.WriteLine($"tcpq: lost {snapshot.Cost.LostEvents - lostReported} events (ring buffer full), {snapshot.Cost.LostEvents} in all");
                lostReported = snapshot.Cost.LostEvents;
            }
        }
        if (otlp is not null && !otlp.Flush(TimeSpan.FromSeconds(5)))
            console.Error.WriteLine($"tcpq: the last OTLP push to {options.OtlpEndpoint} did not complete");
        console.Error.WriteLine($"tcpq: stopped after {http.Scrapes} scrapes");
        return (int)ExitCode.Ok;
    }

    /// <summary>The one place a source is chosen: the kernel's own aggregates (per-CPU maps, no
    /// record per connection), the ring buffer's events counted here, or sock_diag sampled.</summary>
    internal static IAggregateSource OpenSource(ServeOptions options) => options.Backend switch
    {
        TraceBackend.Diag => EventStreamAggregateSource.Diag(options.Ports, options.Interval ?? TraceVerb.DefaultInterval, options.MaxListeners),
        _ when options.Source == ServeOptions.EbpfSource.Events => TraceCommand.SuggestDiagOnFailure(() => EventStreamAggregateSource.Ebpf(
            new TraceConfig(options.Ports, EventKinds.Connection, options.RingBufferKb), TraceCommand.LoadDropReasons(), options.Verbose, options.MaxListeners)),
        _ => new ProgramCostSource(TraceCommand.SuggestDiagOnFailure(() => KernelAggregates.Start(options.Ports, TraceCommand.LoadDropReasons(), options.Verbose))),
    };
}
