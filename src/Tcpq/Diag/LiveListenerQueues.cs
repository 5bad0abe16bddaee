using Tcpq.Events;

namespace Tcpq.Diag;

/// <summary>
/// Each listener's queues as they are now (accept queue length and limit, SYN queue length), read
/// with sock_diag in the listener's own network namespace when asked: what a gauge must show,
/// where an event stream knows them only as of its last event (a closed listener kept its last
/// queue; a handshake that completed left its SYN queue at 1). A namespace other than tcpq's own
/// is found by a process in it (<c>/proc/PID/ns/net</c>) or where runtimes pin it, and entering it
/// needs CAP_SYS_ADMIN (setns); tcpq's own needs nothing. A listener whose namespace cannot be
/// found or entered, or that has closed, has no value here: its gauges are left out, not stale.
/// </summary>
public sealed class LiveListenerQueues(TextWriter log)
{
    /// <summary>One listener's queues (an SO_REUSEPORT group's summed, as its figures are).</summary>
    public readonly record struct Queues(uint Q0, uint Q, uint QMax);

    /// <summary>Where namespaces are pinned as files: <c>ip netns</c>, containerd and CRI-O
    /// (/run/netns), docker.</summary>
    private static readonly string[] PinnedDirectories = ["/run/netns", "/var/run/docker/netns"];

    private readonly Lock _gate = new();
    /// <summary>A path that named each namespace when last looked for (checked again inside).</summary>
    private readonly Dictionary<uint, string> _paths = [];
    /// <summary>Namespaces not found or not entered, and when: looked for again only after
    /// <see cref="RetryUnfound"/> (an event stream keeps the keys of namespaces long deleted).</summary>
    private readonly Dictionary<uint, long> _unfound = [];
    private static readonly TimeSpan RetryUnfound = TimeSpan.FromSeconds(30);
    private readonly HashSet<ExitCode> _saidRefused = [];

    /// <summary>The queues of every key whose listener is open now and could be read.</summary>
    public Dictionary<ListenerKey, Queues> Read(IReadOnlyCollection<ListenerKey> keys)
    {
        lock (_gate)
        {
            var found = new Dictionary<ListenerKey, Queues>(keys.Count);
            uint self = NetNamespaces.CurrentInode();
            foreach (var group in keys.GroupBy(k => k.NetNs))
            {
                var sockets = group.Key == self ? DumpIn(null, self) : DumpElsewhere(group.Key);
                if (sockets is null) continue;
                Match(sockets, group, found);
            }
            // namespaces no key names any more are forgotten (an inode may be reused by a new one)
            var named = keys.Select(k => k.NetNs).ToHashSet();
            foreach (var ino in _paths.Keys.Where(ino => !named.Contains(ino)).ToList()) _paths.Remove(ino);
            foreach (var ino in _unfound.Keys.Where(ino => !named.Contains(ino)).ToList()) _unfound.Remove(ino);
            return found;
        }
    }

    /// <summary>Each key's listener in one namespace's dump: the listener bound to its address or
    /// the wildcard (an event's key holds the connection's local address), the members of an
    /// SO_REUSEPORT group summed.</summary>
    internal static void Match(List<DiagSocket> sockets, IEnumerable<ListenerKey> keys, Dictionary<ListenerKey, Queues> found)
    {
        var index = new ListenerIndex(sockets);
        var q0 = index.CountRequests(sockets);
        var groups = new Dictionary<(Address16, ushort), (uint Q, uint QMax)>();
        foreach (var l in index.Listeners)
        {
            var (q, max) = groups.GetValueOrDefault((l.LocalAddress, l.LocalPort));
            groups[(l.LocalAddress, l.LocalPort)] = (q + l.Q, max + l.QMax);
        }
        foreach (var key in keys)
        {
            int i = index.Find(key.Address, key.Port);
            if (i < 0) continue;
            var l = index.Listeners[i];
            var (q, qmax) = groups[(l.LocalAddress, l.LocalPort)];
            found[key] = new Queues(q0[i], q, qmax);
        }
    }

    private List<DiagSocket>? DumpElsewhere(uint netns)
    {
        if (_paths.TryGetValue(netns, out var known) && DumpIn(known, netns) is { } again) return again;
        _paths.Remove(netns);
        long now = Environment.TickCount64;
        if (_unfound.TryGetValue(netns, out long since) && now - since < RetryUnfound.TotalMilliseconds) return null;
        foreach (var path in Candidates(netns))
        {
            if (DumpIn(path, netns) is not { } sockets) continue;
            _paths[netns] = path;
            _unfound.Remove(netns);
            return sockets;
        }
        _unfound[netns] = now;
        return null;
    }

    /// <summary>Paths that may name the namespace: processes whose link says so, then every pinned
    /// file (their inode is only known from inside).</summary>
    private static IEnumerable<string> Candidates(uint netns)
    {
        foreach (var dir in Entries("/proc", directories: true))
        {
            var name = Path.GetFileName(dir.AsSpan());
            if (name.IsEmpty || !char.IsAsciiDigit(name[0])) continue;
            var link = dir + "/ns/net";
            if (NetNamespaces.InodeOfLink(link) == netns) { yield return link; yield break; }
        }
        foreach (var file in PinnedDirectories.SelectMany(d => Entries(d, directories: false))) yield return file;
    }

    /// <summary>Listeners and request sockets of the namespace at <paramref name="path"/> (null:
    /// tcpq's own), or null when that is not namespace <paramref name="netns"/> (any longer) or
    /// cannot be entered (said once per cause).</summary>
    private List<DiagSocket>? DumpIn(string? path, uint netns)
    {
        try
        {
            return NetNamespaces.RunIn(path, () =>
            {
                if (NetNamespaces.CurrentInode() != netns) return null;
                using var client = SockDiagClient.Open();
                return client.DumpBoth(ListenerSnapshot.States, withDrops: false);
            });
        }
        catch (TcpqException e)
        {
            // Usage: not a namespace (any longer): deleted since it was listed, as under churn
            if (e.Code != ExitCode.Usage && _saidRefused.Add(e.Code))
                log.WriteLine($"tcpq: the queue gauges of listeners in other network namespaces are left out: {DisplayText.Of(e.Message)}");
            return null;
        }
    }

    private static string[] Entries(string dir, bool directories)
    {
        try { return directories ? Directory.GetDirectories(dir) : Directory.GetFiles(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }
}
