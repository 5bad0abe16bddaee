using Tcpq.Events;

namespace Tcpq.Aggregates;

/// <summary>Where <c>serve</c> and <c>top</c> read per-listener aggregates from: the kernel's
/// per-CPU maps (no record per connection), or the event stream (the diag backend, or a trace).</summary>
public interface IAggregateSource : IDisposable
{
    /// <summary>Names for the reasons in the drop and abort counts.</summary>
    DropReasons Reasons { get; }

    /// <summary>Brings the aggregates up to date (a poll of the source) and returns them.</summary>
    AggregateSnapshot Read();
}
