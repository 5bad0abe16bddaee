using Tcpq.Events;
using System.CommandLine;
using OpenTelemetry.Exporter;
using Tcpq.Aggregates;
using Tcpq.Bpf;

namespace Tcpq.Commands;

/// <summary>The command line of <c>tcpq serve</c>, kept apart from the work: flags into checked
/// <see cref="ServeOptions"/>, then <see cref="ServeCommand"/>.</summary>
public static class ServeVerb
{
    public static Command Build(CommandConsole console)
    {
        var listen = new Option<string?>("--listen", "-l")
        {
            HelpName = "ADDRESS:PORT",
            Description = $"Serve Prometheus metrics at http://ADDRESS:PORT/metrics (default 127.0.0.1:{ServeOptions.DefaultPort}; 0.0.0.0:{ServeOptions.DefaultPort} for every address; port 0: any free port)",
        };
        var port = CommonOptions.Ports("Count only this listening port");
        var backend = CommonOptions.Backend("ebpf (default: every event, exact) or diag (samples sock_diag in this network namespace; not exact)");
        var otlp = new Option<string?>("--otlp-endpoint") { HelpName = "URL", Description = "Also push OTLP metrics there, e.g. http://127.0.0.1:4318 (OTLP/HTTP) or, with --otlp-protocol grpc, http://127.0.0.1:4317. Default: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT; headers from OTEL_EXPORTER_OTLP_HEADERS" };
        var otlpProtocol = new Option<string?>("--otlp-protocol") { HelpName = "http|grpc", Description = "http (default: OTLP/HTTP protobuf) or grpc; default: OTEL_EXPORTER_OTLP_PROTOCOL" };
        var otlpInterval = new Option<string?>("--otlp-interval") { HelpName = "SECONDS", Description = $"Time between OTLP pushes (default {ServeOptions.DefaultOtlpInterval.TotalSeconds:0} s)" };
        var interval = CommonOptions.Interval("With --backend diag: time between samples, e.g. 100ms (default), 0.5s");
        var maxListeners = new Option<int>("--max-listeners")
        {
            HelpName = "N",
            Description = $"Listeners exported one by one (default {EventAggregator.DefaultMaxListeners}); the rest are merged into server_address=\"other\", so the series stay bounded (--source events, --backend diag; the kernel's maps hold 1024)",
            DefaultValueFactory = _ => EventAggregator.DefaultMaxListeners,
        };
        var ringKb = CommonOptions.RingBufferKb("(--source events)");
        var source = EnumOption.Create<ServeOptions.EbpfSource>("--source", "", "With --backend ebpf: kernel (default: the kernel counts in per-CPU maps, nothing per connection crosses to user space) or events (the ring buffer's events, counted here as trace reads them)");
        var latencySample = CommonOptions.LatencySample("100ms/1s: tcpq_latency_sample_ratio says the share");
        var spansSlowerThan = new Option<string?>("--spans-slower-than")
        {
            HelpName = "DURATION",
            Description = "Also send each connection slower than this (its handshake, or its queue wait when sampled), dropped or retried as a trace to --otlp-endpoint, e.g. 200ms; the latency histograms then carry its trace id as an exemplar (OpenMetrics)",
        };
        var spansMaxRate = new Option<int>("--spans-max-rate")
        {
            HelpName = "N",
            Description = $"At most N new traces a second (default {ServeOptions.DefaultSpansMaxRate}); the rest count in tcpq_spans_dropped_total",
            DefaultValueFactory = _ => ServeOptions.DefaultSpansMaxRate,
        };
        var duration = CommonOptions.Duration();
        var verbose = CommonOptions.Verbose();
        var dotnet = CommonOptions.Dotnet("Also export the thread pool, GC pauses and Kestrel's refusals of .NET processes (tcpq_dotnet_*), over their diagnostics socket: " +
            "auto (default): every .NET process listening on a served port, looked for again every 5 s; off; or one process id");

        var webConfig = new Option<string?>("--web-config")
        {
            HelpName = "FILE",
            Description = "TLS and basic auth for the endpoint, in Prometheus exporter-toolkit's web config format (tls_server_config, basic_auth_users with bcrypt hashes), as node_exporter takes it",
        };
        var workloads = new WorkloadFlags();
        var serve = new Command("serve", "Count every listener's SYNs, drops, queues and waits and serve them as Prometheus metrics (and push OTLP), until Ctrl-C or SIGTERM")
        {
            listen, port, backend, source, otlp, otlpProtocol, otlpInterval, interval, maxListeners, ringKb, latencySample, spansSlowerThan, spansMaxRate, duration, verbose, dotnet, webConfig,
        };
        workloads.AddTo(serve);
        serve.SetAction(parse =>
        {
            var otlpTarget = OtlpTarget.Resolve(parse.GetValue(otlp), parse.GetValue(otlpProtocol), OtlpTarget.Signal.Metrics);
            var options = new ServeOptions(
                ServeOptions.ParseListen(parse.GetValue(listen)),
                PortList.Parse(parse.GetValue(port) ?? []),
                parse.GetValue(backend),
                otlpTarget?.Endpoint,
                otlpTarget?.Protocol ?? OtlpExportProtocol.HttpProtobuf,
                ServeOptions.ParseSeconds(parse.GetValue(otlpInterval), "--otlp-interval"),
                CommonOptions.ParseInterval(parse.GetValue(interval)),
                parse.GetValue(maxListeners),
                parse.GetValue(ringKb),
                parse.GetValue(duration),
                parse.GetValue(verbose),
                parse.GetValue(source))
            {
                Given = CommonOptions.Given(parse, verbose, ringKb, interval, otlpProtocol, source, maxListeners, latencySample, spansMaxRate),
                Dotnet = Dotnet.DotnetTarget.Parse(parse.GetValue(dotnet)),
                WebConfigPath = parse.GetValue(webConfig),
                OtlpHeaders = otlpTarget?.Headers,
                Workloads = workloads.Read(parse),
                LatencySample = CommonOptions.ParseLatencySample(parse.GetValue(latencySample)),
                SpansSlowerThan = ServeOptions.ParseSpansSlowerThan(parse.GetValue(spansSlowerThan)),
                SpansMaxRate = parse.GetValue(spansMaxRate),
                SpansTarget = parse.GetValue(spansSlowerThan) is null ? null : OtlpTarget.Resolve(parse.GetValue(otlp), parse.GetValue(otlpProtocol), OtlpTarget.Signal.Traces),
            };
            options.Validate();
            return new ServeCommand(options, console).Run();
        });
        return serve;
    }
}
