using Tcpq.Interop;

namespace Tcpq.Workloads;

/// <summary>
/// cgroup v2 ids → paths. A socket's cgroup comes from sock_diag as an id (the kernfs node id),
/// which is the inode number of the cgroup's directory: the path is found by walking the
/// hierarchy where it is mounted (<c>/sys/fs/cgroup/unified</c> on a hybrid host,
/// <c>/sys/fs/cgroup</c> on a unified one). Found paths are kept; an unknown id walks again (at
/// most <see cref="MaxDirectories"/> directories), but an id a walk did not find is not walked for
/// again within <see cref="MinWalkInterval"/>, so a cgroup already gone costs no walk per lookup.
/// </summary>
public sealed class CgroupDirectory(string? mountPoint)
{
    public const int MaxDirectories = 200_000;
    private const int MaxKept = 65_536;
    public static readonly TimeSpan MinWalkInterval = TimeSpan.FromSeconds(5);

    private readonly Dictionary<ulong, string> _paths = [];
    private readonly Dictionary<ulong, long> _missedAtMs = [];

    /// <summary>Where the v2 hierarchy is mounted, or null when it is not.</summary>
    public string? MountPoint { get; } = mountPoint;

    public static CgroupDirectory Find() => new(MountPointOf(ReadMountInfo()));

    /// <summary>The path of cgroup <paramref name="id"/> from the hierarchy's root ("/kubepods/…"),
    /// or null when no directory has that id (gone, or not under the mount).</summary>
    public string? PathOf(ulong id)
    {
        if (id == 0 || MountPoint is null) return null;
        lock (_paths)
        {
            if (_paths.TryGetValue(id, out var path)) return path;
            long now = Environment.TickCount64;
            if (_missedAtMs.TryGetValue(id, out long missed) && now - missed < MinWalkInterval.TotalMilliseconds) return null;
            Walk();
            if (_paths.TryGetValue(id, out path)) return path;
            if (_missedAtMs.Count > MaxKept) _missedAtMs.Clear();
            _missedAtMs[id] = now;
            return null;
        }
    }

    private void Walk()
    {
        if (_paths.Count > MaxKept) _paths.Clear();
        var pending = new Stack<string>();
        pending.Push(MountPoint!);
        int seen = 0;
        while (pending.Count > 0 && seen++ < MaxDirectories)
        {
            var dir = pending.Pop();
            if (Libc.InodeOf(dir) is ulong ino)
                _paths[ino] = dir.Length == MountPoint!.Length ? "/" : dir[MountPoint.Length..];
            try
            {
                foreach (var sub in Directory.EnumerateDirectories(dir)) pending.Push(sub);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // removed while walking
        }
    }

    /// <summary>The mount point of the cgroup v2 hierarchy's root in a mountinfo text (the
    /// first mount of its root; one of a subtree, as a container's own cgroup, only if there is no other).</summary>
    public static string? MountPointOf(IEnumerable<string> mountInfo)
    {
        string? subtree = null;
        foreach (var line in mountInfo)
        {
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            var parts = line.Split(' ');
            int dash = Array.IndexOf(parts, "-");
            if (dash < 5 || dash + 1 >= parts.Length || parts[dash + 1] != "cgroup2") continue;
            var point = Unescape(parts[4]);
            if (parts[3] == "/") return point;
            subtree ??= point;
        }
        return subtree;
    }

    private static IEnumerable<string> ReadMountInfo()
    {
        try { return File.ReadAllLines("/proc/self/mountinfo"); }
        catch (IOException) { return []; }
    }

    private static string Unescape(string s) => s.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\");
}
