using Tcpq.Connections;
using Tcpq.Diag;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Commands;

/// <summary><c>tcpq trace --backend diag</c>: samples sock_diag in the current network namespace
/// and prints what changed in the eBPF tracer's columns, until Ctrl-C, SIGTERM, --duration or the
/// reader of the rows going away.</summary>
public sealed class DiagTraceCommand(TraceOptions options, CommandConsole console)
{
    public int Run()
    {
        var interval = options.Interval ?? TraceVerb.DefaultInterval;
        using var client = SockDiagClient.Open();
        uint netns = NetNamespaces.CurrentInode();
        using var output = RowOutput.Open(options.OutputPath, console);
        using var workloads = TraceCommand.WorkloadsFor(options, console);
        var context = new EventContext(WallClock.System(), DropReasons.Empty) { Workloads = workloads is null ? null : workloads.Of };
        using var pipeline = EventPipeline.Create(options.Format, output.Stream, context, track: options.Summary is not null, new TrackerOptions { Application = ApplicationRows.None });
        var sampler = new DiagSampler(netns, options.Ports, options.Kinds, pipeline);

        using var lifetime = new CommandLifetime(options.DurationSeconds);

        SampleOnce(client, sampler); // the baseline: what is already there is not an event
        output.Begin();
        bool readerGone = CommandLifetime.UntilReaderGoes(() =>
        {
            pipeline.WriteHeader();
            pipeline.Flush();
            console.Error.WriteLine($"tcpq: tracing {PortList.Text(options.Ports)} in netns {netns} by sampling sock_diag every {interval.TotalMilliseconds:0.###} ms: sampled, not exact (what comes and goes between samples is missed); Ctrl-C to stop");
            var next = DateTime.UtcNow + interval;
            while (!lifetime.Stopping)
            {
                var wait = next - DateTime.UtcNow;
                if (wait > TimeSpan.Zero) lifetime.Token.WaitHandle.WaitOne(wait);
                next = DateTime.UtcNow > next + interval ? DateTime.UtcNow + interval : next + interval; // late: no burst to catch up
                SampleOnce(client, sampler);
                pipeline.Flush();
            }
        });
        if (readerGone) return (int)ExitCode.Ok;
        console.Error.WriteLine($"tcpq: {sampler.Events} events from {sampler.Samples} samples (sampled every {interval.TotalMilliseconds:0.###} ms: not exact)");
        TraceCommand.WriteSummary(pipeline, DropReasons.Empty, options, output, console);
        return (int)ExitCode.Ok;
    }

    private static void SampleOnce(SockDiagClient client, DiagSampler sampler)
    {
        var sockets = client.DumpBoth(DiagSampler.States, withDrops: true);
        sampler.Sample(WallClock.MonotonicNowNs(), sockets);
    }
}
