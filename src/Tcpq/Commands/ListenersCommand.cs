using Tcpq.Diag;
using Tcpq.Events;
using Tcpq.Output;
using Tcpq.Workloads;

namespace Tcpq.Commands;

/// <summary><c>tcpq listeners</c>: every listening TCP socket with its queues, drops and owners,
/// from the kernel's socket diagnostics (no eBPF, no privilege for the current namespace).</summary>
public sealed class ListenersCommand(ListenersOptions options, CommandConsole console)
{
    private const string ClearScreen = "\e[H\e[2J";

    public int Run()
    {
        if (options.NetnsPath is not null && options.AllNetns)
            throw new TcpqException(ExitCode.Usage, "--netns and --all-netns do not go together");
        if (options.WatchSeconds is double w && (w <= 0 || double.IsNaN(w) || double.IsInfinity(w)))
            throw new TcpqException(ExitCode.Usage, $"bad --watch '{w}': a number of seconds above 0");

        using var workloads = options.Workloads.Enabled ? new WorkloadResolver(options.Workloads, console.Error) : null;
        var stdout = new StreamWriter(console.Out, new System.Text.UTF8Encoding(false), 64 * 1024, leaveOpen: true);
        var writer = ListenersWriters.Create(options.Format, stdout);
        CommandLifetime.UntilReaderGoes(() =>
        {
            if (options.WatchSeconds is double seconds) Watch(stdout, writer, TimeSpan.FromSeconds(seconds), workloads);
            else writer.Write(DateTime.UtcNow, Snapshot(workloads), repeated: false);
            stdout.Flush();
        });
        return (int)ExitCode.Ok;
    }

    private void Watch(TextWriter stdout, IListenersWriter writer, TimeSpan every, WorkloadResolver? workloads)
    {
        using var lifetime = new CommandLifetime();
        bool redraw = console.OutIsTerminal && options.Format == ListenersFormat.Table;
        void Write()
        {
            var rows = Snapshot(workloads);
            if (redraw) stdout.Write(ClearScreen);
            writer.Write(DateTime.UtcNow, rows, repeated: true);
        }
        Write(); // the first at once, then one a tick
        new PollLoop(every, lifetime.Token).EveryTick(Write).Run();
    }

    /// <summary>Every listener of the chosen namespaces, fullest queue first, each with its
    /// container and pod when <paramref name="workloads"/> is given.</summary>
    public List<ListenerQueue> Snapshot(WorkloadResolver? workloads = null)
    {
        var dumps = new List<(uint NetNs, List<DiagSocket> Sockets)>();
        var seen = new HashSet<uint>();
        IReadOnlyList<string?> targets = options.AllNetns ? [.. NetNamespaces.All()] : [options.NetnsPath];
        foreach (var path in targets)
        {
            try
            {
                var dump = NetNamespaces.RunIn(path, () => seen.Add(NetNamespaces.CurrentInode()) ? ListenerSnapshot.Dump() : default);
                if (dump.Sockets is not null) dumps.Add(dump);
            }
            catch (TcpqException e) when (options.AllNetns && e.Code == ExitCode.Usage)
            {
                // the process or the name went away since the list was made
            }
        }

        var wanted = new HashSet<ulong>();
        foreach (var (_, sockets) in dumps)
            foreach (var s in sockets)
                if (s.State == TcpState.Listen && s.Inode != 0) wanted.Add(s.Inode);
        var owners = wanted.Count > 0 ? SocketOwners.Scan(wanted) : SocketOwners.Empty;

        var rows = new List<ListenerQueue>();
        foreach (var (netns, sockets) in dumps) rows.AddRange(ListenerSnapshot.Build(netns, sockets, owners));
        if (workloads is not null)
            for (int i = 0; i < rows.Count; i++)
                rows[i] = rows[i] with { Workload = workloads.Of(rows[i].CgroupId, rows[i].Owners.Select(o => o.Pid)) };
        rows.Sort(ListenerQueue.CompareFullestFirst);
        return rows;
    }
}
