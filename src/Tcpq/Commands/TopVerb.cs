using Tcpq.Bpf;
using Tcpq.Events;
using System.CommandLine;
using Tcpq.Top;

namespace Tcpq.Commands;

/// <summary>The command line of <c>tcpq top</c>, kept apart from the work: it turns the flags into
/// checked <see cref="TopOptions"/> and runs <see cref="TopCommand"/>.</summary>
public static class TopVerb
{
    public static Command Build(CommandConsole console)
    {
        var port = CommonOptions.Ports("Watch this listening port");
        var interval = CommonOptions.Interval("Time between screens, e.g. 1s (default), 500ms, or a number of ms; 100ms to 60s");
        var backend = CommonOptions.Backend("ebpf (default: every event, exact) or diag (samples sock_diag in this network namespace every 100 ms; no eBPF; not exact)");
        var sort = EnumOption.Create<TopSort>("--sort", "-s", "The column to order listeners by, largest first (listener: by port); worst (default) puts the listener in most trouble first");
        var iterations = new Option<int?>("--iterations", "-n") { HelpName = "N", Description = "Stop after N screens" };
        var duration = CommonOptions.Duration();
        var latencySample = CommonOptions.LatencySample("always");
        var dotnet = CommonOptions.Dotnet("A line per .NET process behind a watched port: its thread pool, threads injected because work starved, GC pauses, Kestrel's refusals (over its diagnostics socket). " +
            "auto (default): every .NET process listening on a watched port, looked for again every 5 s; off; or one process id");

        var workloads = new WorkloadFlags();
        var top = new Command("top",
            "A live view per listener: arrivals and accepts per second, the queues, drops by reason, SYN cookies, handshake and accept-queue latency, the diagnosis; " +
            "keys: q quit, p pause, < > sort column, r reverse, w worst first. Not a terminal: a plain snapshot per interval (like top -b)")
        {
            port, interval, backend, sort, iterations, duration, latencySample, dotnet,
        };
        workloads.AddTo(top);
        top.SetAction(parse =>
        {
            var options = new TopOptions(
                PortList.Parse(parse.GetValue(port) ?? []),
                ParseInterval(parse.GetValue(interval)),
                parse.GetValue(backend),
                parse.GetValue(sort),
                parse.GetValue(iterations),
                parse.GetValue(duration))
            {
                Dotnet = Dotnet.DotnetTarget.Parse(parse.GetValue(dotnet)),
                Workloads = workloads.Read(parse),
                LatencySample = parse.GetValue(latencySample) is string sample ? CommonOptions.ParseLatencySample(sample) : LatencySampling.Always,
            }.Validate();
            if (options.Backend == TraceBackend.Diag && parse.GetResult(latencySample) is { Implicit: false })
                throw new TcpqException(ExitCode.Usage, "--latency-sample does not apply to --backend diag");
            return new TopCommand(options, console).Run();
        });
        return top;
    }

    private static TimeSpan ParseInterval(string? text) =>
        CommonOptions.ParseInterval(text, "100ms to 60s, e.g. 1s or 500ms") ?? TopOptions.DefaultInterval;
}
