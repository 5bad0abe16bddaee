using Tcpq.Bpf;
using Tcpq.Dotnet;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Commands;

/// <summary><c>tcpq trace</c>: loads the kernel programs and prints one row per event until
/// Ctrl-C, SIGTERM, --duration or the reader of the rows going away; then reports what was lost,
/// if anything.</summary>
public sealed class TraceCommand(TraceOptions options, CommandConsole console)
{
    private const int PollMs = 50;

    /// <summary>JSON rows name their listener's container and pod; the other formats' columns are fixed.</summary>
    internal static Workloads.WorkloadResolver? WorkloadsFor(TraceOptions options, CommandConsole console) =>
        options.Format == EventFormat.Json && options.Workloads.Enabled ? new Workloads.WorkloadResolver(options.Workloads, console.Error) : null;

    public int Run()
    {
        var reasons = SuggestDiagOnFailure(LoadDropReasons);
        using var output = RowOutput.Open(options.OutputPath, console);
        using var workloads = WorkloadsFor(options, console);
        var context = new EventContext(WallClock.System(), reasons) { Workloads = workloads is null ? null : workloads.Of };
        using var pipeline = EventPipeline.Create(options.Format, output.Stream, context, track: options.Summary is not null, EventPipeline.Tracking(options.Kinds));
        using var lifetime = new CommandLifetime(options.DurationSeconds);
        DotnetAttacher.Check(options.Dotnet);
        // the application side: a source of its own, and in front of the pipeline to see accept rows
        using var dotnet = new DotnetAttacher(options.Dotnet, options.Ports, options.Kinds, pipeline);
        dotnet.Joined += pid => pipeline.Tracker?.ExpectApp(pid);

        using (var tracer = SuggestDiagOnFailure(() => Tracer.Start(new TraceConfig(options.Ports, options.Kinds, options.RingBufferKb), dotnet, options.Verbose)))
        {
            // Every program is attached: the header tells the reader that tracing is live.
            output.Begin();
            ulong lostReported = 0, missedReported = 0;
            bool uncountedSaid = false;
            bool readerGone = CommandLifetime.UntilReaderGoes(() =>
            {
                pipeline.WriteHeader();
                pipeline.Flush();
                console.Error.WriteLine($"tcpq: tracing {PortList.Text(options.Ports)}; Ctrl-C to stop");
                if (Tracer.KernelIsRealtime)
                    console.Error.WriteLine("tcpq: this is a PREEMPT_RT kernel: drop rows are not proven to match TcpExtListenDrops exactly (see docs/accuracy.md)");
                dotnet.Start();
                while (!lifetime.Stopping)
                {
                    if (tracer.Poll(PollMs) + dotnet.Drain(pipeline, console.Error) > 0) pipeline.Flush();
                    lostReported = ReportLost(tracer, lostReported);
                    uncountedSaid = uncountedSaid || ReportUncounted(tracer);
                    missedReported = ReportMissed(tracer, missedReported);
                }
                tracer.Poll(0);
                dotnet.Dispose(); // the sessions flush what their runtimes still hold
                dotnet.Drain(pipeline, console.Error);
                pipeline.Flush();
            });
            if (readerGone) return (int)ExitCode.Ok;
            ulong lost = tracer.LostEvents();
            console.Error.WriteLine(lost == 0
                ? $"tcpq: {tracer.Events} events, none lost"
                : $"tcpq: {tracer.Events} events, {lost} LOST (ring buffer full)");
            long skipped = BpfProgramStats.SkippedRunsOfThisProcess();
            if (skipped > 0)
                console.Error.WriteLine($"tcpq: the kernel skipped {skipped} run{(skipped == 1 ? "" : "s")} of tcpq's programs (the program was already running on that CPU): up to as many rows are missing");
        }
        WriteSummary(pipeline, reasons, options, output, console);
        return (int)ExitCode.Ok;
    }

    /// <summary>To standard output when the rows went to a file, else to standard error so the
    /// rows on standard output stay parseable.</summary>
    internal static void WriteSummary(EventPipeline pipeline, DropReasons reasons, TraceOptions options, RowOutput output, CommandConsole console)
    {
        if (options.Summary is not SummaryFormat format) return;
        bool rowsOnStdout = output.IsStandardOutput && options.Format != EventFormat.None;
        CommandLifetime.UntilReaderGoes(() => pipeline.WriteSummary("this trace", reasons, format,
            rowsOnStdout ? console.ErrorStream : console.Out,
            terminal: rowsOnStdout ? console.ErrorIsTerminal : console.OutIsTerminal));
    }

    private ulong ReportLost(Tracer tracer, ulong reported)
    {
        ulong lost = tracer.LostEvents();
        if (lost > reported)
            console.Error.WriteLine($"tcpq: lost {lost - reported} events (ring buffer full), {lost} in all");
        return lost;
    }

    private ulong ReportMissed(Tracer tracer, ulong reported)
    {
        ulong missed = tracer.MissedVerdicts();
        if (missed > reported)
            console.Error.WriteLine($"tcpq: the verdict on {missed - reported} SYN(s) was missed (a syn-drop or syn-cookie row may be missing; see docs/accuracy.md), {missed} in all");
        return missed;
    }

    /// <summary>Once: the kernel side could not find this CPU's TcpExt counters and infers drops.</summary>
    private bool ReportUncounted(Tracer tracer)
    {
        if (tracer.UncountedVerdicts() == 0) return false;
        console.Error.WriteLine("tcpq: this kernel's per-CPU TcpExt counters could not be found: syn-drop/ack-drop/syn-cookie rows are inferred from the listener's sk_drops and may differ from TcpExtListenDrops (see docs/accuracy.md)");
        return true;
    }

    /// <summary>Where eBPF cannot be used, says why and names the way that needs none.</summary>
    internal static T SuggestDiagOnFailure<T>(Func<T> start)
    {
        try
        {
            return start();
        }
        catch (TcpqException e) when (e.Code is ExitCode.NoPermission or ExitCode.NoBtf or ExitCode.UnsupportedKernel)
        {
            throw new TcpqException(e.Code, $"{e.Message}; without eBPF, try --backend diag (sampled)", e);
        }
    }

    internal static DropReasons LoadDropReasons()
    {
        using var btf = KernelBtf.Open(KernelBtf.VmlinuxPath);
        var names = btf.EnumValues("skb_drop_reason")
            ?? throw new TcpqException(ExitCode.UnsupportedKernel, "this kernel has no enum skb_drop_reason: tcpq needs Linux 6.2 or later");
        return new DropReasons(names);
    }
}
