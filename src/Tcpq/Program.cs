using System.CommandLine;
using Tcpq;
using Tcpq.Commands;
using Tcpq.Events;
using Tcpq.Output;

return TcpqProgram.Run(args);

/// <summary>Builds the command tree and maps every error to one line and an exit code.</summary>
internal static class TcpqProgram
{
    private const string ExitCodesHelp = """
        Exit codes:
          0 ok    1 unexpected failure   2 usage (unknown flag, bad value)   3 bad port
          4 no permission (need root or CAP_BPF+CAP_PERFMON+CAP_NET_ADMIN)   5 no BTF
          6 no cgroup v2   7 missing tracepoint   8 unsupported kernel   9 bad input file
          10 libbpf not installed
        """;

    public static int Run(string[] args)
    {
        try
        {
            var root = Build();
            var parse = root.Parse(args);
            if (parse.Errors.Count > 0)
            {
                Console.Error.WriteLine($"tcpq: {parse.Errors[0].Message} (see tcpq --help)");
                return (int)ExitCode.Usage;
            }
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (TcpqException e)
        {
            Console.Error.WriteLine($"tcpq: {e.Message}");
            return (int)e.Code;
        }
        catch (Exception e)
        {
            // a bug or an unforeseen system error: still one line, never a stack trace
            Console.Error.WriteLine($"tcpq: unexpected error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
            return (int)ExitCode.Failure;
        }
    }

    internal static RootCommand Build()
    {
        var root = new RootCommand(
            "tcpq follows incoming TCP connections from the SYN through the kernel's queues to accept(), and says where the time went.\n\n" + ExitCodesHelp);
        root.Subcommands.Add(BuildTrace());
        root.Subcommands.Add(ListenersVerb.Build());
        root.Subcommands.Add(BuildReport());
        return root;
    }

    private static Command BuildTrace()
    {
        var port = new Option<string[]>("--port", "-p")
        {
            Description = "Trace this listening port (repeatable, or a comma list); default: every port",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = false,
        };
        var format = new Option<EventFormat>("--format", "-f")
        {
            Description = "csv (default), json (one object per line), seed (the DTrace script's nine columns) or none (no rows: with --summary)",
            DefaultValueFactory = _ => EventFormat.Csv,
        };
        var duration = new Option<double?>("--duration", "-d") { Description = "Stop after this many seconds" };
        var output = new Option<string?>("--output", "-o") { Description = "Write rows to this file instead of standard output" };
        var events = new Option<string[]>("--events", "-e")
        {
            Description = "Only these actions (comma list): syn, syn-drop, syn-cookie, synack-retrans, syn-aa, ack-drop, accept, abort. Filtered in the kernel; without accept, no syscall tracepoint is attached (which every syscall on the machine pays for while attached)",
            Arity = ArgumentArity.OneOrMore,
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print libbpf's messages" };
        var ringKb = new Option<int>("--ring-buffer-kb")
        {
            Description = "Size of the kernel's event ring buffer in KiB (a power of two); events that do not fit are counted and reported as lost",
            DefaultValueFactory = _ => Tcpq.Bpf.TraceConfig.DefaultRingBufferKb,
        };

        var backend = TraceBackendOptions.Backend();
        var interval = TraceBackendOptions.Interval();

        var summary = new Option<bool>("--summary") { Description = "Also print a summary per listening port and a diagnosis when tracing ends (to stdout when rows go to -o FILE, else to stderr)" };
        var summaryFormat = new Option<SummaryFormat>("--summary-format") { Description = "text (default) or json", DefaultValueFactory = _ => SummaryFormat.Text };

        var trace = new Command("trace", "Print one row per kernel event of each incoming TCP connection, from SYN to accept()")
        {
            port, format, duration, output, events, verbose, ringKb, backend, interval, summary, summaryFormat,
        };
        trace.SetAction(parse =>
        {
            double? seconds = parse.GetValue(duration);
            if (seconds is <= 0 or double.NaN or double.PositiveInfinity)
                throw new TcpqException(ExitCode.Usage, $"bad duration '{seconds}': a number of seconds above 0");
            var options = new TraceOptions(
                PortList.Parse(parse.GetValue(port) ?? []),
                parse.GetValue(format),
                seconds,
                parse.GetValue(output),
                ParseKinds(parse.GetValue(events)),
                parse.GetValue(verbose),
                parse.GetValue(ringKb),
                parse.GetValue(backend),
                TraceBackendOptions.ParseInterval(parse.GetValue(interval), parse.GetValue(backend)))
            {
                Summary = parse.GetValue(summary) ? parse.GetValue(summaryFormat) : null,
            };
            return new TraceCommand(options, Console.Error).Run();
        });
        return trace;
    }

    private static Command BuildReport()
    {
        var file = new Argument<string>("FILE") { Description = "A trace saved by tcpq trace (csv, json or seed), or - for standard input" };
        var format = new Option<SummaryFormat>("--format", "-f") { Description = "text (default, for people) or json", DefaultValueFactory = _ => SummaryFormat.Text };
        var lenient = new Option<bool>("--lenient") { Description = "At a bad line, stop there and report the rows before it instead of failing" };
        var report = new Command("report", "Summarise a saved trace per listening port: where each connection's time went, the slowest ones, and a diagnosis")
        {
            file, format, lenient,
        };
        report.SetAction(parse => new ReportCommand(
            new ReportOptions(parse.GetValue(file)!, parse.GetValue(format), parse.GetValue(lenient)),
            Console.OpenStandardOutput(), Console.Error).Run());
        return report;
    }

    private static IReadOnlySet<EventKind>? ParseKinds(string[]? values)
    {
        if (values is null || values.Length == 0) return null;
        var kinds = new HashSet<EventKind>();
        foreach (var name in values.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)))
        {
            if (!EventKinds.TryParse(name, out var kind))
                throw new TcpqException(ExitCode.Usage, $"unknown action '{name}' for --events: one of {string.Join(", ", EventKinds.All.Select(EventKinds.Name))}");
            kinds.Add(kind);
        }
        return kinds;
    }
}
