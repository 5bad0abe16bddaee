using Tcpq.Diag;
using Tcpq.Events;

namespace Tcpq.Workloads;

/// <summary>
/// Which container and pod a listener runs in. From the listening socket's own cgroup first (the
/// cgroup of the process that made it: counting mode reads its id in the kernel, otherwise
/// sock_diag reports it from inside the listener's network namespace), then from the cgroups of the
/// processes that hold it (<c>/proc/PID/cgroup</c>, every v1 hierarchy too): the first path that
/// names a container or a pod (<see cref="ContainerCgroup"/>); then its names
/// (<see cref="ContainerNames"/>). A listener whose cgroups name neither is the host's: no workload.
///
/// For serve and top, by listener key: a key is looked up once when it first appears (in one pass
/// over the namespaces of all new keys), so its series carry their labels from the first scrape,
/// and looked at again every <see cref="Recheck"/>. An answer sticks: a listener whose socket is
/// gone (its container stopped) keeps the labels it had, until its key leaves the readings; only a
/// socket found again under the same key with another cgroup (a namespace inode reused) changes
/// them. Bounded by the keys asked about: a key not asked about is forgotten.
/// <para>A key that comes with its socket's cgroup id and whose cgroup names a container needs no
/// sock_diag and no setns (which needs CAP_SYS_ADMIN): the id's path is found in the cgroup v2
/// hierarchy, which anyone may read. Only the others (the host's, and sockets made outside their
/// container) are looked for in their namespaces, for their owners.</para>
/// </summary>
public sealed class WorkloadResolver : IDisposable
{
    public static readonly TimeSpan Recheck = TimeSpan.FromSeconds(60);

    private readonly CgroupDirectory _cgroups;
    private readonly ContainerNames? _names;
    private readonly string _proc;
    /// <summary>Looks up keys in their namespaces (sock_diag, owners); the flag says whether the
    /// keys' own cgroups were known already (then only their owners are wanted there).</summary>
    private readonly Func<IReadOnlyCollection<ListenerKey>, bool, Dictionary<ListenerKey, Workload?>> _find;
    private readonly Func<long> _nowMs;
    private readonly Dictionary<ListenerKey, (Workload? Workload, long CheckedMs)> _byKey = [];
    private IReadOnlyDictionary<ListenerKey, Workload> _answers = new Dictionary<ListenerKey, Workload>();
    private readonly Dictionary<ListenerKey, Workload?> _rows = [];
    /// <summary>Listeners a trace keeps answers for; past it they are looked up again.</summary>
    public const int MaxRowKeys = 4096;

    public WorkloadResolver(WorkloadOptions options, TextWriter log, string proc = "/proc")
    {
        _cgroups = CgroupDirectory.Find();
        _names = new ContainerNames(options.RuntimeSocket, options.KubeletLogs, log);
        _proc = proc;
        var sockets = new ListenerSockets(log);
        _find = (keys, cgroupsKnown) =>
        {
            var found = sockets.Find(keys, cgroupsKnown);
            var owners = OwnersOf(found.Values);
            return found.ToDictionary(f => f.Key, f => Of(f.Value.CgroupId, owners.Of(f.Value.Inode).Select(o => o.Pid)));
        };
        _nowMs = () => Environment.TickCount64;
    }

    /// <summary>For tests of what sticks: <paramref name="find"/> answers the keys whose socket
    /// it finds (a null answer: the host's), <paramref name="nowMs"/> is the clock,
    /// <paramref name="cgroups"/> a hierarchy to find cgroup ids in.</summary>
    internal WorkloadResolver(Func<IReadOnlyCollection<ListenerKey>, Dictionary<ListenerKey, Workload?>> find, Func<long> nowMs, CgroupDirectory? cgroups = null)
    {
        _cgroups = cgroups ?? new CgroupDirectory(null);
        _proc = "/proc";
        _find = (keys, _) => find(keys);
        _nowMs = nowMs;
    }

    /// <summary>Looks up the keys not known yet (and those due a recheck), forgets the rest, and
    /// returns the answers, the host's listeners left out: what <c>serve</c>'s exporters and
    /// <c>top</c> label their listeners with. Read at every reading of the aggregates (top: 20
    /// times a second), so a reading that brings no key to look up allocates nothing.</summary>
    public IReadOnlyDictionary<ListenerKey, Workload> For(IEnumerable<ListenerKey> keys) => For(keys.Select(k => (k, 0UL)));

    /// <summary>The same, for listeners whose socket's cgroup id the source knows (0: unknown).</summary>
    public IReadOnlyDictionary<ListenerKey, Workload> For(IEnumerable<(ListenerKey Key, ulong CgroupId)> listeners)
    {
        lock (_byKey)
        {
            long now = _nowMs();
            if (AllKnown(listeners, now)) return _answers;
            var asked = new Dictionary<ListenerKey, ulong>();
            foreach (var (key, cgroupId) in listeners)
                if (key.Port != 0) asked.TryAdd(key, cgroupId);
            foreach (var gone in _byKey.Keys.Where(k => !asked.ContainsKey(k)).ToList()) _byKey.Remove(gone);
            var due = asked.Keys.Where(k => !_byKey.TryGetValue(k, out var e) || Due(e.CheckedMs, now)).ToList();
            if (due.Count > 0)
            {
                var found = new Dictionary<ListenerKey, Workload?>();
                var elsewhere = new List<ListenerKey>();
                foreach (var key in due)
                {
                    if (OfCgroup(asked[key]) is { } inContainer) found[key] = inContainer;
                    else elsewhere.Add(key);
                }
                if (elsewhere.Count > 0)
                    foreach (var (key, answer) in _find(elsewhere, elsewhere.Any(k => asked[k] != 0))) found[key] = answer;
                foreach (var key in due)
                {
                    var before = _byKey.TryGetValue(key, out var e) ? e.Workload : null;
                    // no socket now: the listener closed (its container may have stopped); its labels stay
                    _byKey[key] = (found.TryGetValue(key, out var answer) ? answer : before, now);
                }
            }
            _answers = _byKey.Where(e => e.Value.Workload is not null).ToDictionary(e => e.Key, e => e.Value.Workload!);
            return _answers;
        }
    }

    /// <summary>Every key asked is known and not due, and no known key left: the last answers hold.</summary>
    private bool AllKnown(IEnumerable<(ListenerKey Key, ulong CgroupId)> listeners, long now)
    {
        int asked = 0;
        foreach (var (key, _) in listeners)
        {
            if (key.Port == 0) continue;
            if (!_byKey.TryGetValue(key, out var e) || Due(e.CheckedMs, now)) return false;
            asked++;
        }
        return asked == _byKey.Count; // keys are distinct in a reading
    }

    private static bool Due(long checkedMs, long now) => now - checkedMs >= Recheck.TotalMilliseconds;

    /// <summary>For a trace's rows, one listener at a time: looked up at its first row (on the
    /// reading thread: one sock_diag dump of its namespace), then kept for the trace's life.</summary>
    public Workload? Of(ListenerKey key)
    {
        lock (_rows)
        {
            if (_rows.TryGetValue(key, out var known)) return known;
            if (_rows.Count >= MaxRowKeys) _rows.Clear();
            return _rows[key] = _find([key], false).GetValueOrDefault(key);
        }
    }

    /// <summary>The workload of a socket with cgroup <paramref name="cgroupId"/> held by
    /// <paramref name="ownerPids"/>, or null for the host's.</summary>
    public Workload? Of(ulong cgroupId, IEnumerable<int> ownerPids)
    {
        var found = _cgroups.PathOf(cgroupId) is { } path ? ContainerCgroup.Parse(path) : null;
        if (found is null)
            foreach (int pid in ownerPids)
                if ((found = OfProcess(pid)) is not null) break;
        return found is null ? null : Named(found);
    }

    /// <summary>The workload of a socket of cgroup <paramref name="cgroupId"/>, when its cgroup
    /// names a container or a pod; null otherwise (unknown, the host's, or gone).</summary>
    private Workload? OfCgroup(ulong cgroupId) =>
        cgroupId != 0 && _cgroups.PathOf(cgroupId) is { } path && ContainerCgroup.Parse(path) is { } found ? Named(found) : null;

    private Workload Named(ContainerCgroup found)
    {
        var named = found.ContainerId is { } id ? _names?.Of(id) : null;
        return new Workload(found.ContainerId, found.PodUid ?? named?.PodUid, named?.ContainerName,
            named?.PodName, named?.Namespace, named?.K8sContainerName);
    }

    private ContainerCgroup? OfProcess(int pid)
    {
        try { return ContainerCgroup.FromProcCgroup(File.ReadAllText($"{_proc}/{pid}/cgroup")); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Owners are looked for only for sockets whose own cgroup names no container
    /// (a /proc walk of every process's fds is the costly part).</summary>
    private SocketOwners OwnersOf(IEnumerable<DiagSocket> sockets)
    {
        var wanted = new HashSet<ulong>();
        foreach (var s in sockets)
            if (s.Inode != 0 && (_cgroups.PathOf(s.CgroupId) is not { } path || ContainerCgroup.Parse(path) is null)) wanted.Add(s.Inode);
        return wanted.Count > 0 ? SocketOwners.Scan(wanted, _proc) : SocketOwners.Empty;
    }

    public void Dispose() => _names?.Dispose();
}
