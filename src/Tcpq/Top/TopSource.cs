using Tcpq.Aggregates;

namespace Tcpq.Top;

/// <summary>What top reads: the aggregates, the diagnosis beside them (null where the source
/// cannot give one), and a few words for the title line.</summary>
public sealed class TopSource(IAggregateSource aggregates, IListenerDiagnosis? diagnosis, string description, Dotnet.DotnetWatch? dotnet = null) : IDisposable
{
    public IAggregateSource Aggregates { get; } = aggregates;
    public IListenerDiagnosis? Diagnosis { get; } = diagnosis;
    public string Description { get; } = description;
    /// <summary>The .NET processes behind the watched ports (--dotnet), or null when off.</summary>
    public Dotnet.DotnetWatch? Dotnet { get; } = dotnet;
    /// <summary>Each listener's container and pod, looked up for a frame's listeners; null when off.</summary>
    public Func<IEnumerable<Events.ListenerKey>, Func<Events.ListenerKey, Events.Workload?>>? Workloads { get; init; }
    /// <summary>Disposed with the source (what <see cref="Workloads"/> holds open).</summary>
    public IDisposable? WorkloadsOwner { get; init; }
    public void Dispose()
    {
        Dotnet?.Dispose();
        WorkloadsOwner?.Dispose();
        Aggregates.Dispose();
    }
}
