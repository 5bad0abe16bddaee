using System.Runtime.InteropServices;
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
        using var output = options.OutputPath is null or "-" ? Console.OpenStandardOutput() : TraceCommand.OpenOutputFile(options.OutputPath);
        using var writer = EventWriters.Create(options.Format, output, new EventContext(WallClock.System(), DropReasons.Empty));
        var sampler = new DiagSampler(netns, options.Ports, options.Kinds, writer);

        using var stop = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        if (options.DurationSeconds is double d) stop.CancelAfter(TimeSpan.FromSeconds(d));

        SampleOnce(client, sampler); // the baseline: what is already there is not an event
        writer.WriteHeader();
        writer.Flush();
        string ports = options.Ports.Count == 0 ? "every listening port" : $"port{(options.Ports.Count > 1 ? "s" : "")} {string.Join(", ", options.Ports)}";
        stderr.WriteLine($"tcpq: tracing {ports} in netns {netns} by sampling sock_diag every {interval.TotalMilliseconds:0.###} ms: sampled, not exact (what comes and goes between samples is missed); Ctrl-C to stop");
        try
        {
            var next = DateTime.UtcNow + interval;
            while (!stop.IsCancellationRequested)
            {
                var wait = next - DateTime.UtcNow;
                if (wait > TimeSpan.Zero) stop.Token.WaitHandle.WaitOne(wait);
                next = DateTime.UtcNow > next + interval ? DateTime.UtcNow + interval : next + interval; // late: no burst to catch up
                SampleOnce(client, sampler);
                writer.Flush();
            }
        }
        catch (IOException e) when (e.HResult == 32 || e.Message.Contains("Broken pipe", StringComparison.OrdinalIgnoreCase))
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
