using Tcpq.Diag;
using Tcpq.Events;

namespace Tcpq.Workloads;

/// <summary>
/// The listening sockets behind listener keys (namespace, address, port), found with sock_diag
/// in each key's network namespace: each with its cgroup id (the socket's own, its creator's) and
/// its inode (to find its owners). Namespaces are found by their processes
/// (<c>/proc/PID/ns/net</c>), then where runtimes pin them (<see cref="PinnedNamespaceDirectories"/>);
/// entering another one needs CAP_SYS_ADMIN (setns), reading other users' processes' links
/// CAP_SYS_PTRACE: a namespace that cannot be entered is skipped and said once.
/// </summary>
public sealed class ListenerSockets(TextWriter log)
{
    private readonly HashSet<ExitCode> _refused = [];
    private bool _saidUnfound;

    /// <summary>Where network namespaces are pinned as files: <c>ip netns</c>, containerd and
    /// CRI-O (/run/netns: a pod's sandbox), podman (/run/netns/netns-UUID), docker.</summary>
    public static readonly string[] PinnedNamespaceDirectories = ["/run/netns", "/var/run/docker/netns"];

    /// <summary>The socket of each key that has one now; keys without one (closed, or in a
    /// namespace that could not be found or entered) are absent. <paramref name="cgroupsKnown"/>:
    /// the keys' own cgroups are known already (counting mode), so what a namespace not entered
    /// costs is only their owners, and the line that says so says that.</summary>
    public Dictionary<ListenerKey, DiagSocket> Find(IReadOnlyCollection<ListenerKey> keys, bool cgroupsKnown = false)
    {
        string lost = cgroupsKnown ? "to look up their owners" : "to attribute them to containers";
        var found = new Dictionary<ListenerKey, DiagSocket>();
        var byNetns = keys.GroupBy(k => k.NetNs).ToDictionary(g => g.Key, g => g.ToList());
        var pending = new HashSet<uint>(byNetns.Keys);

        void Match((uint NetNs, List<DiagSocket> Sockets)? dump)
        {
            if (dump is not { } d || !pending.Remove(d.NetNs)) return;
            var index = new ListenerIndex(d.Sockets);
            foreach (var key in byNetns[d.NetNs])
                if (index.Find(key.Address, key.Port) is int i and >= 0) found[key] = index.Listeners[i];
        }

        uint self = NetNamespaces.CurrentInode();
        if (pending.Contains(self)) Match(DumpIn(null, _ => true, lost));
        foreach (var dir in ProcessDirectories())
        {
            if (pending.Count == 0) break;
            if (NetNamespaces.InodeOfLink($"{dir}/ns/net") is uint ino && pending.Contains(ino))
                Match(DumpIn($"{dir}/ns/net", here => here == ino, lost));
        }
        // namespaces whose processes are not visible (tcpq in a pod), or none holds: where they are
        // pinned (their inode is only known inside)
        foreach (var name in PinnedNamespaceDirectories.SelectMany(Files))
        {
            if (pending.Count == 0) break;
            Match(DumpIn(name, pending.Contains, lost));
        }
        if (pending.Count > 0 && !_saidUnfound)
        {
            _saidUnfound = true;
            log.WriteLine($"tcpq: {pending.Count} network namespace{(pending.Count == 1 ? "" : "s")} of listeners not found {lost} " +
                $"(gone, or neither pinned in {string.Join(" or ", PinnedNamespaceDirectories)} nor held by a process tcpq can see: in a container, mount the host's /run/netns)");
        }
        return found;
    }

    /// <summary>The listening sockets of the namespace at <paramref name="path"/> (null: tcpq's
    /// own), when <paramref name="wanted"/> says its inode is one of those looked for.</summary>
    private (uint NetNs, List<DiagSocket> Sockets)? DumpIn(string? path, Func<uint, bool> wanted, string lost)
    {
        try
        {
            return NetNamespaces.RunIn(path, () =>
            {
                uint here = NetNamespaces.CurrentInode();
                if (!wanted(here)) return ((uint, List<DiagSocket>)?)null;
                using var client = SockDiagClient.Open();
                return (here, client.DumpBoth(NetlinkMessages.StateMask(TcpState.Listen), withDrops: false));
            });
        }
        catch (TcpqException e)
        {
            // Usage: not a namespace (any longer): deleted since it was listed, as under churn
            if (e.Code != ExitCode.Usage && _refused.Add(e.Code))
                log.WriteLine($"tcpq: listeners in other network namespaces are not read {lost}: {e.Message}");
            return null;
        }
    }

    private static IEnumerable<string> ProcessDirectories()
    {
        string[] dirs;
        try { dirs = Directory.GetDirectories("/proc"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { yield break; }
        foreach (var dir in dirs)
        {
            var name = Path.GetFileName(dir.AsSpan());
            if (!name.IsEmpty && char.IsAsciiDigit(name[0]) && int.TryParse(name, out _)) yield return dir;
        }
    }

    private static string[] Files(string dir)
    {
        try { return Directory.GetFiles(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }
}
