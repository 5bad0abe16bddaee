using Tcpq.Aggregates;
using Tcpq.Bpf;
using Tcpq.Connections;
using Tcpq.Connections.Diagnosis;
using Tcpq.Dotnet;
using Tcpq.Events;
using Tcpq.Top;
using Tcpq.Workloads;

namespace Tcpq.Commands;

/// <summary>The one place top's source is chosen and made: the kernel's aggregates, or sock_diag
/// sampled into the shared event-stream source, with the .NET processes joined around either.</summary>
public static class TopSources
{
    /// <summary>sock_diag is sampled this often (top's --interval paces the screens, not this).</summary>
    private static readonly TimeSpan DiagSampleEvery = TimeSpan.FromMilliseconds(100);

    /// <summary>eBPF: the kernel's own per-listener aggregates (no record per connection), with the
    /// diagnosis built from them. diag: sock_diag sampled into events, counted and tracked.</summary>
    public static TopSource Open(TopOptions options)
    {
        DotnetAttacher.Check(options.Dotnet);
        if (options.Backend == TraceBackend.Diag)
        {
            // one sampled stream, two consumers: the aggregator behind the source, the tracker behind the diagnosis
            var tracker = new ConnectionTracker();
            var sampled = EventStreamAggregateSource.Diag(options.Ports, DiagSampleEvery, alsoTo: tracker);
            var tracked = new TrackerDiagnosis(tracker, sampled.Reasons, DiagnosisContext.FromProc());
            return new TopSource(WithWorkloads(WithApps(sampled, options), options), tracked, $"diag (sampled, not exact) · {PortList.Text(options.Ports)}") { Tick = DiagSampleEvery };
        }
        var kernel = EbpfStart.OrSuggestDiag(() => KernelCounters.Start(options.Ports, DropReasons.FromKernel(), sample: options.LatencySample));
        var diagnosis = new AggregateDiagnosis(kernel.Reasons, DiagnosisContext.FromProc());
        return new TopSource(new ObservedAggregateSource(WithWorkloads(WithApps(kernel, options), options), diagnosis.Observe), diagnosis, $"ebpf (kernel aggregates) · {PortList.Text(options.Ports)}");
    }

    /// <summary>What a joined process says (joined, no socket…) would tear the live screen: its line under the table says it.</summary>
    private static IAggregateSource WithApps(IAggregateSource source, TopOptions options) =>
        options.Dotnet.Enabled ? new DotnetAggregateSource(source, options.Dotnet, options.Ports, TextWriter.Null) : source;

    /// <summary>Each listener's container and pod, for the WORKLOAD column; what the lookup says (a
    /// namespace it cannot enter…) would tear the live screen too.</summary>
    private static IAggregateSource WithWorkloads(IAggregateSource source, TopOptions options) =>
        options.Workloads.Enabled ? new WorkloadAggregateSource(source, new WorkloadResolver(options.Workloads, TextWriter.Null)) : source;
}
