using System.CommandLine;
using Tcpq.Bpf;
using Tcpq.Dotnet;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Commands;

/// <summary>The command line of <c>tcpq trace</c>, kept apart from the work: it turns the flags
/// into checked <see cref="TraceOptions"/> and runs <see cref="TraceCommand"/>.</summary>
public static class TraceVerb
{
    public static Command Build(CommandConsole console)
    {
        var port = CommonOptions.Ports("Trace this listening port");
        var format = EnumOption.Create<EventFormat>("--format", "-f", "csv (default), json (one object per line), seed (the DTrace script's nine columns) or none (no rows: with --summary)");
        var duration = CommonOptions.Duration();
        var output = new Option<string?>("--output", "-o") { HelpName = "FILE", Description = "Write rows to this file instead of standard output" };
        var events = new Option<string[]>("--events", "-e")
        {
            HelpName = "ACTIONS",
            Description = "Only these actions (comma list): " + string.Join(", ", EventKinds.All.Select(EventKinds.Name)) +
                "; `default` (every action but first-read, first-write and close, which put a hook on every socket read and write on the machine, " +
                "and app-conn, app-request and app-close, which a joined .NET app pays for on every connection and request: off unless asked for), `all`. " +
                "Filtered in the kernel; without accept and the application's actions, no syscall tracepoint is attached (which every syscall on the machine pays for while attached)",
            Arity = ArgumentArity.OneOrMore,
        };
        var verbose = CommonOptions.Verbose();
        var ringKb = CommonOptions.RingBufferKb("(eBPF backend); events that do not fit are counted and reported as lost");
        var backend = CommonOptions.Backend("ebpf (default: every event, exact) or diag (samples sock_diag; no eBPF, no root for the current namespace; not exact)");
        var interval = CommonOptions.Interval("With --backend diag: time between samples, e.g. 100ms (default), 0.5s, or a number of ms");
        var summary = new Option<bool>("--summary") { Description = "Also print a summary per listening port and a diagnosis when tracing ends (to stdout when rows go to -o FILE, else to stderr)" };
        var dotnet = CommonOptions.Dotnet("Join .NET processes over the runtime's diagnostics socket (EventPipe): the thread pool, GC pauses and Kestrel's refusals (app-* rows); " +
            "with -e app-conn,app-request,app-close also Kestrel's connections and requests, joined to the kernel's rows. " +
            "auto (default): every .NET process that owns a traced listener or accepts a traced connection; off; or one process id (eBPF backend)");
        var summaryFormat = EnumOption.Create<SummaryFormat>("--summary-format", "", "text (default) or json");
        var otlp = new Option<string?>("--otlp-endpoint")
        {
            HelpName = "URL",
            Description = "Also send each connection as a trace (OTLP spans: handshake, accept-queue wait, accept to first read, first read to first write; drops and retries as events) there, " +
                "e.g. http://127.0.0.1:4318 (OTLP/HTTP) or, with --otlp-protocol grpc, http://127.0.0.1:4317. Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT; headers from OTEL_EXPORTER_OTLP_HEADERS",
        };
        var otlpProtocol = new Option<string?>("--otlp-protocol") { HelpName = "http|grpc", Description = "http (default: OTLP/HTTP protobuf) or grpc; default: OTEL_EXPORTER_OTLP_PROTOCOL" };

        var trace = new Command("trace", "Print one row per kernel event of each incoming TCP connection, from SYN to accept()")
        {
            port, format, duration, output, events, verbose, ringKb, backend, interval, summary, summaryFormat, dotnet, otlp, otlpProtocol,
        };
        var workloads = new WorkloadFlags();
        workloads.AddTo(trace);
        trace.SetAction(parse =>
        {
            var options = new TraceOptions(
                PortList.Parse(parse.GetValue(port) ?? []),
                parse.GetValue(format),
                parse.GetValue(duration),
                parse.GetValue(output),
                ParseKinds(parse.GetValue(events)),
                parse.GetValue(verbose),
                parse.GetValue(ringKb),
                parse.GetValue(backend),
                CommonOptions.ParseInterval(parse.GetValue(interval)))
            {
                Summary = parse.GetValue(summary) ? parse.GetValue(summaryFormat) : null,
                Given = CommonOptions.Given(parse, verbose, ringKb, interval, dotnet, otlpProtocol),
                Otlp = OtlpTarget.Resolve(parse.GetValue(otlp), parse.GetValue(otlpProtocol), OtlpTarget.Signal.Traces),
                Dotnet = DotnetTarget.Parse(parse.GetValue(dotnet)),
                Workloads = workloads.Read(parse),
            };
            options.Validate();
            return new TraceCommand(options, console).Run();
        });
        return trace;
    }

    /// <summary>Without -e, the default actions: every one but the application's (first-read,
    /// first-write, close), whose hooks every socket read and write on the machine pays for
    /// (bench/RESULTS.md); <c>default</c> and <c>all</c> name the two sets.</summary>
    public static IReadOnlySet<EventKind>? ParseKinds(string[]? values)
    {
        if (values is null || values.Length == 0) return DefaultKinds;
        var kinds = new HashSet<EventKind>();
        foreach (var name in values.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)))
        {
            if (name == "all") kinds.UnionWith(EventKinds.All);
            else if (name == "default") kinds.UnionWith(DefaultKinds);
            else if (EventKinds.TryParse(name, out var kind)) kinds.Add(kind);
            else throw new TcpqException(ExitCode.Usage, $"unknown action '{name}' for --events: one of {string.Join(", ", EventKinds.All.Select(EventKinds.Name))}, default, all");
        }
        return kinds;
    }

    public static readonly IReadOnlySet<EventKind> DefaultKinds = EventKinds.Connection;
}
