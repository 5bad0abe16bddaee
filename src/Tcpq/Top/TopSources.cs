using Tcpq.Aggregates;
using Tcpq.Commands;
using Tcpq.Connections.Diagnosis;

namespace Tcpq.Top;

/// <summary>What top reads: the aggregates, the diagnosis beside them (null where the source
/// cannot give one), and a few words for the title line.</summary>
public sealed class TopSource(IAggregateSource aggregates, IListenerDiagnosis? diagnosis, string description) : IDisposable
{
    public IAggregateSource Aggregates { get; } = aggregates;
    public IListenerDiagnosis? Diagnosis { get; } = diagnosis;
    public string Description { get; } = description;
    public void Dispose() => Aggregates.Dispose();
}

/// <summary>The one place top's source is chosen and made: swap the event-stream adapter for
/// the shared one, or for the kernel's aggregates, here.</summary>
public static class TopSources
{
    public static TopSource Open(TopOptions options)
    {
        var source = options.Backend == TraceBackend.Diag
            ? TopEventStreamSource.Diag(options.Ports)
            : TopEventStreamSource.Ebpf(options.Ports);
        var diagnosis = new TrackerDiagnosis(source.Tracker, source.Reasons, DiagnosisContext.FromProc());
        string what = $"{(options.Backend == TraceBackend.Diag ? "diag (sampled, not exact)" : "ebpf")} · {PortList.Text(options.Ports)}";
        return new TopSource(source, diagnosis, what);
    }
}
