using Tcpq.Aggregates;

namespace Tcpq.Top;

/// <summary>What top reads: the aggregates (with the .NET processes joined in them, --dotnet), the
/// diagnosis beside them (null where the source cannot give one), a few words for the title line,
/// and how often the aggregates are to be read between screens.</summary>
public sealed class TopSource(IAggregateSource aggregates, IListenerDiagnosis? diagnosis, string description) : IDisposable
{
    /// <summary>Reading the kernel's aggregates is a map walk: every 50 ms shows the diagnosis how
    /// often each queue is full, and top looks at the keys as often.</summary>
    public static readonly TimeSpan DefaultTick = TimeSpan.FromMilliseconds(50);

    public IAggregateSource Aggregates { get; } = aggregates;
    public IListenerDiagnosis? Diagnosis { get; } = diagnosis;
    public string Description { get; } = description;

    /// <summary>How often the aggregates are read (which pumps a sampled stream: its interval).</summary>
    public TimeSpan Tick { get; init; } = DefaultTick;

    public void Dispose() => Aggregates.Dispose();
}
