using Tcpq.Events;
using Tcpq.Output;
using Tcpq.Report;

namespace Tcpq.Commands;

/// <summary><c>tcpq report FILE</c>: reads a trace saved by <c>tcpq trace</c> (csv, json or seed,
/// or <c>-</c> for standard input), streaming, and prints the summary and diagnosis that
/// <c>trace --summary</c> prints at the end of a live trace.</summary>
public sealed class ReportCommand(ReportOptions options, CommandConsole console, Connections.TrackerOptions? tracking = null)
{
    public int Run()
    {
        string name = options.Path == "-" ? "standard input" : options.Path;
        var tracker = new Connections.ConnectionTracker(tracking);
        using var pipeline = new EventPipeline(new NoEventWriter(), tracker);
        TraceReadResult read;
        using (var input = Open(options.Path))
        using (var reader = TraceReader.Open(input, name, pipeline, options.Lenient))
        {
            // the seed format has no drop rows: they are inferred from the queues it shows
            tracker.InferDropsFromQueues = reader.Format == EventFormat.Seed;
            new PollLoop(TimeSpan.Zero, CancellationToken.None).Pump(reader).Run(); // to the file's end, without pause
            read = reader.Result;
        }
        if (read.Error != null) console.Error.WriteLine($"tcpq: {read.Error}; reporting the {read.Rows} rows before it");
        CommandLifetime.UntilReaderGoes(() =>
            pipeline.WriteSummary(name, read.Reasons, options.Format, console.Out, console.OutIsTerminal, read.Error));
        return (int)ExitCode.Ok;
    }

    private Stream Open(string path)
    {
        if (path == "-") return console.OpenInput();
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw FileProblem.Unreadable(path, e);
        }
    }
}
