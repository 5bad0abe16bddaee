using Tcpq.Diag;
using Tcpq.Output;

namespace Tcpq.Commands;

public sealed record ListenersOptions(string? NetnsPath, bool AllNetns, double? WatchSeconds, ListenersFormat Format)
{
    /// <summary>Where listeners' container and pod names come from (--workloads, --runtime-socket, --kubelet-logs).</summary>
    public Workloads.WorkloadOptions Workloads { get; init; } = Tcpq.Workloads.WorkloadOptions.Default;
}
