using System.CommandLine;
using System.Globalization;
using Tcpq.Bpf;
using Tcpq.Dotnet;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Commands;

/// <summary>The command line of <c>tcpq trace</c>, kept apart from the work: it turns the flags
/// into checked <see cref="TraceOptions"/> and runs the backend asked for.</summary>
public static class TraceVerb
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(100);

    public static Command Build(CommandConsole console)
    {
        var port = new Option<string[]>("--port", "-p")
        {
            HelpName = "PORT",
            Description = "Trace this listening port (repeatable, or a comma list); default: every port",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = false,
        };
        var format = EnumOption.Create<EventFormat>("--format", "-f", "csv (default), json (one object per line), seed (the DTrace script's nine columns) or none (no rows: with --summary)");
        var duration = new Option<double?>("--duration", "-d") { HelpName = "SECONDS", Description = "Stop after this many seconds" };
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
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print libbpf's messages (eBPF backend)" };
        var ringKb = new Option<int>("--ring-buffer-kb")
        {
            HelpName = "KIB",
            Description = $"Size of the kernel's event ring buffer in KiB, {TraceConfig.RingBufferRange} (eBPF backend); events that do not fit are counted and reported as lost",
            DefaultValueFactory = _ => TraceConfig.DefaultRingBufferKb,
        };
        var backend = EnumOption.Create<TraceBackend>("--backend", "-b", "ebpf (default: every event, exact) or diag (samples sock_diag; no eBPF, no root for the current namespace; not exact)");
        var interval = new Option<string?>("--interval", "-i")
        {
            HelpName = "TIME",
            Description = "With --backend diag: time between samples, e.g. 100ms (default), 0.5s, or a number of ms",
        };
        var summary = new Option<bool>("--summary") { Description = "Also print a summary per listening port and a diagnosis when tracing ends (to stdout when rows go to -o FILE, else to stderr)" };

        var dotnet = new Option<string?>("--dotnet")
        {
            HelpName = "auto|off|PID",
            Description = "Join .NET processes over the runtime's diagnostics socket (EventPipe): the thread pool, GC pauses and Kestrel's refusals (app-* rows); " +
                "with -e app-conn,app-request,app-close also Kestrel's connections and requests, joined to the kernel's rows. " +
                "auto (default): every .NET process that owns a traced listener or accepts a traced connection; off; or one process id (eBPF backend)",
        };
        var summaryFormat = EnumOption.Create<SummaryFormat>("--summary-format", "", "text (default) or json");

        var trace = new Command("trace", "Print one row per kernel event of each incoming TCP connection, from SYN to accept()")
        {
            port, format, duration, output, events, verbose, ringKb, backend, interval, summary, summaryFormat, dotnet,
        };
        var workloads = new WorkloadFlags();
        workloads.AddTo(trace);
        trace.SetAction(parse =>
        {
            var given = new HashSet<string>();
            foreach (var o in new Option[] { verbose, ringKb, interval, dotnet })
                if (parse.GetResult(o) is { Implicit: false }) given.Add(o.Name);
            var options = new TraceOptions(
                PortList.Parse(parse.GetValue(port) ?? []),
                parse.GetValue(format),
                parse.GetValue(duration),
                parse.GetValue(output),
                ParseKinds(parse.GetValue(events)),
                parse.GetValue(verbose),
                parse.GetValue(ringKb),
                parse.GetValue(backend),
                ParseInterval(parse.GetValue(interval)))
            {
                Summary = parse.GetValue(summary) ? parse.GetValue(summaryFormat) : null,
                Given = given,
                Dotnet = DotnetTarget.Parse(parse.GetValue(dotnet)),
                Workloads = workloads.Read(parse),
            };
            options.Validate();
            return options.Backend == TraceBackend.Diag
                ? new DiagTraceCommand(options, console).Run()
                : new TraceCommand(options, console).Run();
        });
        return trace;
    }

    /// <summary>"100", "100ms", "0.5s": 10 ms to 60 s.</summary>
    public static TimeSpan? ParseInterval(string? text)
    {
        if (text is null) return null;
        var t = text.Trim();
        double scale = 1;
        if (t.EndsWith("ms", StringComparison.OrdinalIgnoreCase)) t = t[..^2];
        else if (t.EndsWith('s') || t.EndsWith('S')) { t = t[..^1]; scale = 1000; }
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v)
            || v * scale < 10 || v * scale > 60_000)
            throw new TcpqException(ExitCode.Usage, $"bad --interval '{text}': 10ms to 60s, e.g. 100ms or 0.5s");
        return TimeSpan.FromMilliseconds(v * scale);
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
