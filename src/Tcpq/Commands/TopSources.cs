using Tcpq.Events;
using Tcpq.Aggregates;
using Tcpq.Bpf;
using Tcpq.Connections.Diagnosis;

using Tcpq.Top;

namespace Tcpq.Commands;

/// <summary>The one place top's source is chosen and made: swap the event-stream adapter for
/// the shared one, or for the kernel's aggregates, here.</summary>
public static class TopSources
{
    /// <summary>eBPF: the kernel's own per-listener aggregates (no record per connection), with the
    /// diagnosis built from them. diag: sock_diag sampled into events, counted and tracked.</summary>
    public static TopSource Open(TopOptions options, Workloads.WorkloadOptions workloads)
    {
        var source = Open(options);
        if (!workloads.Enabled) return source;
        // what the resolver says (a namespace it cannot enter…) would tear the live screen
        var resolver = new Workloads.WorkloadResolver(workloads, TextWriter.Null);
        return new TopSource(source.Aggregates, source.Diagnosis, source.Description, source.Dotnet) { Workloads = resolver.For, WorkloadsOwner = resolver };
    }

    private static TopSource Open(TopOptions options)
    {
        Dotnet.DotnetAttacher.Check(options.Dotnet);
        // what a joined process says (joined, no socket…) would tear the live screen: its line under the table says it
        var dotnet = options.Dotnet.Enabled ? new Dotnet.DotnetWatch(options.Dotnet, options.Ports, TextWriter.Null) : null;
        if (options.Backend == TraceBackend.Diag)
        {
            var sampled = TopEventStreamSource.Diag(options.Ports);
            var tracked = new TrackerDiagnosis(sampled.Tracker, sampled.Reasons, DiagnosisContext.FromProc());
            return new TopSource(sampled, tracked, $"diag (sampled, not exact) · {PortList.Text(options.Ports)}", dotnet);
        }
        var kernel = KernelAggregates.Start(options.Ports, TraceCommand.LoadDropReasons());
        var diagnosis = new AggregateDiagnosis(kernel.Reasons, DiagnosisContext.FromProc()) { Apps = dotnet is null ? null : key => dotnet.SummaryFor(key) };
        return new TopSource(new ObservedAggregateSource(kernel, diagnosis.Observe), diagnosis, $"ebpf (kernel aggregates) · {PortList.Text(options.Ports)}", dotnet);
    }
}
