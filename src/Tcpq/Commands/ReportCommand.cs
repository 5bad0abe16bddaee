using Tcpq.Connections;
using Tcpq.Output;
using Tcpq.Report;

namespace Tcpq.Commands;

public sealed record ReportOptions(string Path, SummaryFormat Format, bool Lenient);

/// <summary><c>tcpq report FILE</c>: reads a trace saved by <c>tcpq trace</c> (csv, json or seed,
/// or <c>-</c> for standard input), streaming, and prints the summary and diagnosis that
/// <c>trace --summary</c> prints at the end of a live trace.</summary>
public sealed class ReportCommand(ReportOptions options, Stream stdout, TextWriter stderr, TrackerOptions? tracking = null)
{
    public int Run()
    {
        var tracker = new ConnectionTracker(tracking);
        TraceReadResult read;
        using (var input = Open(options.Path))
        {
            string name = options.Path == "-" ? "standard input" : options.Path;
            read = TraceReader.Read(input, name, tracker, options.Lenient);
        }
        tracker.Complete();
        if (read.Error != null) stderr.WriteLine($"tcpq: {read.Error}; reporting the {read.Rows} rows before it");
        var summary = TraceSummary.Build(options.Path == "-" ? "standard input" : options.Path, tracker, read.Reasons, DiagnosisContext.FromProc(), read.Error);
        SummaryOutput.Write(summary, options.Format, stdout, terminal: !Console.IsOutputRedirected);
        return (int)ExitCode.Ok;
    }

    private static Stream Open(string path)
    {
        if (path == "-") return Console.OpenStandardInput();
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TcpqException(ExitCode.BadInput, $"cannot read {path}: {e.Message}");
        }
    }
}
