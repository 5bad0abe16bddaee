using Tcpq.Bpf;
using Tcpq.Connections;
using Tcpq.Diag;
using Tcpq.Dotnet;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Commands;

/// <summary><c>tcpq trace</c>: one row per event from the source asked for — the kernel programs
/// and the .NET processes joined (ebpf), or sock_diag sampled (diag) — until Ctrl-C, SIGTERM,
/// --duration or the reader of the rows going away; then what was lost, if anything, and the
/// summary when asked for.</summary>
public sealed class TraceCommand(TraceOptions options, CommandConsole console)
{
    /// <summary>How late a row may reach its reader: the ring buffer wakes tcpq only as it fills,
    /// so it is read at least this often.</summary>
    private static readonly TimeSpan RowLatency = TimeSpan.FromMilliseconds(50);

    public int Run() => options.Backend == TraceBackend.Diag ? RunSampled() : RunEbpf();

    /// <summary>JSON rows and spans name their listener's container and pod; the other formats' columns are fixed.</summary>
    private Workloads.WorkloadResolver? OpenWorkloads() =>
        (options.Format == EventFormat.Json || options.Otlp is not null) && options.Workloads.Enabled ? new Workloads.WorkloadResolver(options.Workloads, console.Error) : null;

    /// <summary>--otlp-endpoint: the tracker follows connections (as for --summary) and hands each
    /// finished one to the span exporter.</summary>
    private TraceSpans? OpenSpans(EventContext context, Workloads.WorkloadResolver? workloads) =>
        options.Otlp is { } target ? new TraceSpans(target, context.Clock, context.Reasons, workloads is null ? null : workloads.Of, console.Error) : null;

    private EventPipeline OpenPipeline(RowOutput output, EventContext context, TrackerOptions tracking, TraceSpans? spans) =>
        EventPipeline.Create(options.Format, output.Stream, context, track: options.Summary is not null || spans is not null,
            spans is null ? tracking : spans.Tracking(tracking) with { CountListeners = options.Summary is not null });

    private int RunEbpf()
    {
        var reasons = EbpfStart.OrSuggestDiag(DropReasons.FromKernel);
        using var output = RowOutput.Open(options.OutputPath, console);
        using var workloads = OpenWorkloads();
        var context = new EventContext(WallClock.System(), reasons) { Workloads = workloads is null || options.Format != EventFormat.Json ? null : workloads.Of };
        using var spans = OpenSpans(context, workloads);
        using var pipeline = OpenPipeline(output, context, EventPipeline.Tracking(options.Kinds), spans);
        using var lifetime = new CommandLifetime(options.DurationSeconds);
        DotnetAttacher.Check(options.Dotnet);
        // the application side: a source of its own, and in front of the pipeline to see accept rows
        using var dotnet = new DotnetAttacher(options.Dotnet, options.Ports, options.Kinds, pipeline, console.Error);
        dotnet.Joined += pid => pipeline.Tracker?.ExpectApp(pid);
        // spans link each request span of a joined .NET app that came on the connection
        if (spans is not null) dotnet.RequestLinks = pipeline.Tracker;

        using (var tracer = EbpfStart.OrSuggestDiag(() => Tracer.Start(new TraceConfig(options.Ports, options.Kinds, options.RingBufferKb), dotnet, options.Verbose)))
        {
            var losses = new TracerLosses(tracer, console.Error);
            var loop = new PollLoop(RowLatency, lifetime.Token).Pump(tracer).Pump(dotnet).EveryTick(losses.Report);
            if (spans is not null) loop.EveryTick(() => spans.Tick(pipeline.Tracker!));
            bool readerGone = Follow(output, pipeline, loop,
                started: () =>
                {
                    console.Error.WriteLine($"tcpq: tracing {PortList.Text(options.Ports)}; Ctrl-C to stop");
                    if (spans is not null) console.Error.WriteLine($"tcpq: {spans.StartLine}");
                    if (tracer.UringAcceptsUnseen is string unseen)
                        console.Error.WriteLine($"tcpq: {unseen}");
                    if (Tracer.KernelIsRealtime)
                        console.Error.WriteLine("tcpq: this is a PREEMPT_RT kernel: drop rows are not proven to match TcpExtListenDrops exactly (see docs/accuracy.md)");
                    dotnet.Start();
                },
                stopping: () =>
                {
                    tracer.Drain();
                    dotnet.Stop(); // the sessions flush what their runtimes still hold
                    dotnet.Pump(TimeSpan.Zero);
                });
            spans?.End(pipeline.Tracker!);
            if (readerGone) return (int)ExitCode.Ok;
            losses.ReportEnd();
        }
        WriteSummary(pipeline, reasons, output);
        return (int)ExitCode.Ok;
    }

    /// <summary>--backend diag: sock_diag sampled in the current network namespace.</summary>
    private int RunSampled()
    {
        var interval = options.Interval ?? CommonOptions.DefaultInterval;
        using var output = RowOutput.Open(options.OutputPath, console);
        using var workloads = OpenWorkloads();
        var context = new EventContext(WallClock.System(), DropReasons.Empty) { Workloads = workloads is null || options.Format != EventFormat.Json ? null : workloads.Of };
        using var spans = OpenSpans(context, workloads);
        using var pipeline = OpenPipeline(output, context, new TrackerOptions { Application = ApplicationRows.None }, spans);
        using var sampler = DiagSampler.Open(options.Ports, options.Kinds, pipeline); // the baseline: what is already there is not an event
        using var lifetime = new CommandLifetime(options.DurationSeconds);

        var loop = new PollLoop(interval, lifetime.Token).Pump(sampler);
        if (spans is not null) loop.EveryTick(() => spans.Tick(pipeline.Tracker!));
        bool readerGone = Follow(output, pipeline, loop,
            started: () =>
            {
                console.Error.WriteLine($"tcpq: tracing {PortList.Text(options.Ports)} in netns {sampler.NetNs} by sampling sock_diag every {interval.TotalMilliseconds:0.###} ms: sampled, not exact (what comes and goes between samples is missed); Ctrl-C to stop");
                if (spans is not null) console.Error.WriteLine($"tcpq: {spans.StartLine}");
            },
            stopping: () => { });
        spans?.End(pipeline.Tracker!);
        if (readerGone) return (int)ExitCode.Ok;
        console.Error.WriteLine($"tcpq: {sampler.Events} events from {sampler.Samples} samples (sampled every {interval.TotalMilliseconds:0.###} ms: not exact)");
        WriteSummary(pipeline, DropReasons.Empty, output);
        return (int)ExitCode.Ok;
    }

    /// <summary>Once the source is live: the rows begin (a file is emptied, the header written),
    /// the loop runs, the last rows are flushed. True when the reader of the rows went away.</summary>
    private static bool Follow(RowOutput output, EventPipeline pipeline, PollLoop loop, Action started, Action stopping)
    {
        output.Begin();
        return CommandLifetime.UntilReaderGoes(() =>
        {
            pipeline.WriteHeader();
            pipeline.Flush();
            started();
            loop.AfterEvents(pipeline.Flush).Run();
            stopping();
            pipeline.Flush();
        });
    }

    /// <summary>To standard output when the rows went to a file, else to standard error so the
    /// rows on standard output stay parseable.</summary>
    private void WriteSummary(EventPipeline pipeline, DropReasons reasons, RowOutput output)
    {
        if (options.Summary is not SummaryFormat format) return;
        bool rowsOnStdout = output.IsStandardOutput && options.Format != EventFormat.None;
        CommandLifetime.UntilReaderGoes(() => pipeline.WriteSummary("this trace", reasons, format,
            rowsOnStdout ? console.ErrorStream : console.Out,
            terminal: rowsOnStdout ? console.ErrorIsTerminal : console.OutIsTerminal));
    }
}
