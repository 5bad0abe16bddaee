using System.CommandLine;
using Tcpq.Output;

namespace Tcpq.Commands;

/// <summary>The command line of <c>tcpq listeners</c>, kept apart from the work.</summary>
public static class ListenersVerb
{
    public static Command Build(CommandConsole console)
    {
        var netns = new Option<string?>("--netns", "-n")
        {
            HelpName = "PATH",
            Description = "Look in this network namespace (a file such as /run/netns/NAME or /proc/PID/ns/net); default: the current one",
        };
        var allNetns = new Option<bool>("--all-netns", "-A") { Description = "Look in every network namespace a process holds, and those in /run/netns (needs root)" };
        var watch = new Option<double?>("--watch", "-w") { HelpName = "SECONDS", Description = "Repeat every SECONDS: redraw on a terminal, append timestamped snapshots to a pipe" };
        var format = EnumOption.Create<ListenersFormat>("--format", "-f", "table (default), csv or json (an array of objects per snapshot)");
        var workloads = new WorkloadFlags();
        var command = new Command("listeners",
            "List every listening TCP socket with its SYN queue (Q0), accept queue (Q of Qmax), drops and owning processes, fullest first; uses sock_diag, no eBPF")
        {
            netns, allNetns, watch, format,
        };
        workloads.AddTo(command);
        command.SetAction(parse => new ListenersCommand(
            new ListenersOptions(parse.GetValue(netns), parse.GetValue(allNetns), parse.GetValue(watch), parse.GetValue(format)) { Workloads = workloads.Read(parse) },
            console).Run());
        return command;
    }
}
