using Tcpq.Diag;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Commands;

/// <summary><c>tcpq trace --backend diag</c>: samples sock_diag in the current network namespace
/// and prints what changed in the eBPF tracer's columns, until Ctrl-C, SIGTERM or --duration.</summary>
public sealed class DiagTraceCommand(TraceOptions options, TextWriter stderr)
{
    public int Run()
    {
        var interval = options.Interval ?? TraceBackendOptions.DefaultInterval;
        using var client = SockDiagClient.Open();
        uint netns = NetNamespaces.CurrentInode();
        using var output = CommandLifetime.OpenOutput(options.OutputPath);
        using var writer = EventWriters.Create(options.Format, output, new EventContext(WallClock.System(), DropReasons.Empty));
        var sampler = new DiagSampler(netns, options.Ports, options.Kinds, writer);

        using var lifetime = new CommandLifetime(options.DurationSeconds);

        SampleOnce(client, sampler); // the baseline: what is already there is not an event
        writer.WriteHeader();
        writer.Flush();
        stderr.WriteLine($"tcpq: tracing {CommandLifetime.PortsText(options.Ports)} in netns {netns} by sampling sock_diag every {interval.TotalMilliseconds:0.###} ms: sampled, not exact (what comes and goes between samples is missed); Ctrl-C to stop");
        try
        {
            var next = DateTime.UtcNow + interval;
            while (!lifetime.Stopping)
            {
                var wait = next - DateTime.UtcNow;
                if (wait > TimeSpan.Zero) lifetime.Token.WaitHandle.WaitOne(wait);
                next = DateTime.UtcNow > next + interval ? DateTime.UtcNow + interval : next + interval; // late: no burst to catch up
                SampleOnce(client, sampler);
                writer.Flush();
            }
        }
        catch (IOException e) when (CommandLifetime.IsBrokenPipe(e))
        {
            return (int)ExitCode.Ok;
        }
        stderr.WriteLine($"tcpq: {sampler.Events} events from {sampler.Samples} samples (sampled every {interval.TotalMilliseconds:0.###} ms: not exact)");
        return (int)ExitCode.Ok;
    }

    private static void SampleOnce(SockDiagClient client, DiagSampler sampler)
    {
        var sockets = client.DumpBoth(DiagSampler.States, withDrops: true);
        sampler.Sample(WallClock.MonotonicNowNs(), sockets);
    }
}
