using Tcpq.Bpf;
using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Commands;

public sealed record TraceOptions(
    IReadOnlyList<ushort> Ports,
    EventFormat Format,
    double? DurationSeconds,
    string? OutputPath,
    IReadOnlySet<EventKind>? Kinds,
    bool Verbose,
    int RingBufferKb = TraceConfig.DefaultRingBufferKb,
    TraceBackend Backend = TraceBackend.Ebpf,
    TimeSpan? Interval = null)
{
    /// <summary>--summary: follow connections too and print a summary when tracing ends.</summary>
    public SummaryFormat? Summary { get; init; }
}

/// <summary><c>tcpq trace</c>: loads the kernel programs and prints one row per event until
/// Ctrl-C, SIGTERM or --duration; then reports what was lost, if anything.</summary>
public sealed class TraceCommand(TraceOptions options, TextWriter stderr)
{
    private const int PollMs = 50;

    public int Run()
    {
        if (options.Backend == TraceBackend.Diag) return new DiagTraceCommand(options, stderr).Run();
        var reasons = SuggestDiagOnFailure(LoadDropReasons);
        using var output = CommandLifetime.OpenOutput(options.OutputPath);
        var context = new EventContext(WallClock.System(), reasons);
        using var writer = EventWriters.Create(options.Format, output, context);
        var tracker = options.Summary is null ? null : new ConnectionTracker();
        IEventSink sink = tracker is null ? new WriterSink(writer) : new WriterAndTrackerSink(writer, tracker);

        using var lifetime = new CommandLifetime(options.DurationSeconds);

        using (var tracer = SuggestDiagOnFailure(() => Tracer.Start(new TraceConfig(options.Ports, options.Kinds, options.RingBufferKb), sink, options.Verbose)))
        {
            // Every program is attached: the header tells the reader that tracing is live.
            writer.WriteHeader();
            writer.Flush();
            stderr.WriteLine($"tcpq: tracing {CommandLifetime.PortsText(options.Ports)}; Ctrl-C to stop");
            ulong lostReported = 0;
            try
            {
                while (!lifetime.Stopping)
                {
                    if (tracer.Poll(PollMs) > 0) writer.Flush();
                    lostReported = ReportLost(tracer, lostReported);
                }
                tracer.Poll(0);
                writer.Flush();
            }
            catch (IOException e) when (CommandLifetime.IsBrokenPipe(e))
            {
                // the reader went away (| head): a normal end
                return (int)ExitCode.Ok;
            }
            ulong lost = tracer.LostEvents();
            stderr.WriteLine(lost == 0
                ? $"tcpq: {tracer.Events} events, none lost"
                : $"tcpq: {tracer.Events} events, {lost} LOST (ring buffer full)");
        }
        if (tracker != null) PrintSummary(tracker, context.Reasons);
        return (int)ExitCode.Ok;
    }

    /// <summary>To standard output when the rows went to a file, else to standard error so the
    /// rows on standard output stay parseable.</summary>
    private void PrintSummary(ConnectionTracker tracker, DropReasons reasons)
    {
        tracker.Complete();
        bool rowsOnStdout = options.OutputPath is null or "-" && options.Format != EventFormat.None;
        var summary = TraceSummary.Build("this trace", tracker, reasons, DiagnosisContext.FromProc());
        using var stream = rowsOnStdout ? Console.OpenStandardError() : Console.OpenStandardOutput();
        SummaryOutput.Write(summary, options.Summary!.Value, stream,
            terminal: rowsOnStdout ? !Console.IsErrorRedirected : !Console.IsOutputRedirected);
    }

    private ulong ReportLost(Tracer tracer, ulong reported)
    {
        ulong lost = tracer.LostEvents();
        if (lost > reported)
            stderr.WriteLine($"tcpq: lost {lost - reported} events (ring buffer full), {lost} in all");
        return lost;
    }


    /// <summary>Where eBPF cannot be used, says why and names the way that needs none.</summary>
    private static T SuggestDiagOnFailure<T>(Func<T> start)
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

    private static DropReasons LoadDropReasons()
    {
        using var btf = KernelBtf.Open(KernelBtf.VmlinuxPath);
        var names = btf.EnumValues("skb_drop_reason")
            ?? throw new TcpqException(ExitCode.UnsupportedKernel, "this kernel has no enum skb_drop_reason: tcpq needs Linux 6.2 or later");
        return new DropReasons(names);
    }

    private sealed class WriterSink(IEventWriter writer) : IEventSink
    {
        public void OnEvent(in TcpqEvent e) => writer.Write(in e);
    }

    private sealed class WriterAndTrackerSink(IEventWriter writer, ConnectionTracker tracker) : IEventSink
    {
        public void OnEvent(in TcpqEvent e)
        {
            writer.Write(in e);
            tracker.OnEvent(in e);
        }
    }
}
