using Tcpq.Connections.Diagnosis;
using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Commands;

/// <summary>Where every source's events go: a row writer and, for <c>--summary</c> and
/// <c>report</c>, a tracker that joins them into connections. Every source (the ring buffer, the
/// diag sampler, a saved trace) emits into this one sink; adding a consumer is a line here.</summary>
public sealed class EventPipeline(IEventWriter writer, ConnectionTracker? tracker) : IEventSink, IDisposable
{
    public ConnectionTracker? Tracker => tracker;

    public static EventPipeline Create(EventFormat format, Stream rows, EventContext context, bool track, TrackerOptions? tracking = null) =>
        new(EventWriters.Create(format, rows, context), track ? new ConnectionTracker(tracking) : null);

    /// <summary>A live trace knows which application rows it asked the kernel for (-e).</summary>
    public static TrackerOptions Tracking(IReadOnlySet<EventKind>? kinds)
    {
        var rows = ApplicationRows.None;
        if (kinds is null || kinds.Contains(EventKind.FirstRead)) rows |= ApplicationRows.FirstRead;
        if (kinds is null || kinds.Contains(EventKind.FirstWrite)) rows |= ApplicationRows.FirstWrite;
        if (kinds is null || kinds.Contains(EventKind.Close)) rows |= ApplicationRows.Close;
        return new TrackerOptions { Application = rows, LingerNs = TrackerOptions.LiveLingerNs };
    }

    public void OnEvent(in TcpqEvent e)
    {
        writer.Write(in e);
        tracker?.OnEvent(in e);
    }

    public void WriteHeader() => writer.WriteHeader();

    public void Flush() => writer.Flush();

    /// <summary>Ends the tracker's open connections and writes its summary and diagnosis.</summary>
    public void WriteSummary(string source, DropReasons reasons, SummaryFormat format, Stream to, bool terminal, string? inputError = null)
    {
        if (tracker is null) return;
        tracker.Complete();
        var summary = TraceSummary.Build(source, tracker, reasons, DiagnosisContext.FromProc(), inputError);
        SummaryOutput.Write(summary, format, to, terminal);
    }

    public void Dispose() => writer.Dispose();
}
