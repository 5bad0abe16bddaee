using Tcpq.Events;
using Tcpq.Bpf;

namespace Tcpq.Top;

/// <summary>Everything <c>tcpq top</c> was asked for, checked by <see cref="Validate"/> before
/// anything touches the kernel.</summary>
public sealed record TopOptions(
    IReadOnlyList<ushort> Ports,
    TimeSpan Interval,
    TraceBackend Backend = TraceBackend.Ebpf,
    TopSort Sort = TopSort.Worst,
    int? Iterations = null,
    double? DurationSeconds = null)
{
    /// <summary>--dotnet: which .NET processes to show a line for (thread pool, GC, Kestrel's refusals).</summary>
    public Dotnet.DotnetTarget Dotnet { get; init; } = Tcpq.Dotnet.DotnetTarget.Auto;

    /// <summary>--workloads, --runtime-socket, --kubelet-logs: where a listener's container and pod names come from.</summary>
    public Workloads.WorkloadOptions Workloads { get; init; } = Tcpq.Workloads.WorkloadOptions.Default;

    /// <summary>--latency-sample: counting mode's accept hooks (--backend ebpf). Always by default:
    /// top is watched while someone looks for a cause, and its WAIT columns and diagnosis need the
    /// accepts' waits; sampled (serve's 100ms/1s) they miss a bursty or slow accept loop entirely
    /// (DotnetTests' starved Kestrel: 40 accepts in bursts, none in a window, no WAIT and no
    /// thread-pool-starvation diagnosis in 50 s). serve, on for months, samples.</summary>
    public Bpf.LatencySampling LatencySample { get; init; } = Bpf.LatencySampling.Always;

    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(100);

    public TopOptions Validate()
    {
        TraceConfig.RequireFilterablePorts(Ports, "watched");
        if (Interval < MinInterval || Interval > TimeSpan.FromSeconds(60))
            throw new TcpqException(ExitCode.Usage, $"bad --interval {Interval.TotalSeconds:0.###}s: 100ms to 60s");
        if (Iterations is int n && n < 1)
            throw new TcpqException(ExitCode.Usage, $"bad --iterations {n}: a number of snapshots from 1");
        if (DurationSeconds is double d && !(d > 0 && double.IsFinite(d)))
            throw new TcpqException(ExitCode.Usage, $"bad --duration '{d}': a number of seconds above 0");
        return this;
    }
}
