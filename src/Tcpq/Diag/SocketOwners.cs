namespace Tcpq.Diag;

/// <summary>
/// Which processes hold which sockets, from the <c>socket:[INODE]</c> links in /proc/PID/fd (as
/// <c>ss -p</c> finds them). Socket inodes are unique across namespaces, so one scan serves all.
/// Processes whose fds cannot be read (another user's, without root) are counted, not fatal.
/// </summary>
public sealed class SocketOwners
{
    private readonly Dictionary<ulong, List<SocketOwner>> _byInode;

    public int UnreadableProcesses { get; }

    public SocketOwners(Dictionary<ulong, List<SocketOwner>> byInode, int unreadable)
    {
        _byInode = byInode;
        UnreadableProcesses = unreadable;
    }

    public static SocketOwners Empty { get; } = new([], 0);

    public IReadOnlyList<SocketOwner> Of(ulong inode) =>
        inode != 0 && _byInode.TryGetValue(inode, out var owners) ? owners : [];

    /// <summary>Scans every process; <paramref name="wanted"/>, when given, limits the map to those inodes.</summary>
    public static SocketOwners Scan(IReadOnlySet<ulong>? wanted = null, string proc = "/proc")
    {
        var byInode = new Dictionary<ulong, List<SocketOwner>>();
        int unreadable = 0;
        string[] pids;
        try { pids = Directory.GetDirectories(proc); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return new SocketOwners(byInode, 0); }

        foreach (var dir in pids)
        {
            var name = Path.GetFileName(dir.AsSpan());
            if (name.IsEmpty || !int.TryParse(name, out int pid)) continue;
            string? comm = null;
            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries($"{dir}/fd"))
                {
                    ulong inode = SocketInode(fd);
                    if (inode == 0 || (wanted is not null && !wanted.Contains(inode))) continue;
                    comm ??= ReadComm(dir);
                    if (!byInode.TryGetValue(inode, out var list)) byInode[inode] = list = [];
                    if (!list.Exists(o => o.Pid == pid)) list.Add(new SocketOwner(pid, comm));
                }
            }
            catch (UnauthorizedAccessException) { unreadable++; }
            catch (IOException) { } // the process ended while we looked
        }
        foreach (var list in byInode.Values) list.Sort((a, b) => a.Pid.CompareTo(b.Pid));
        return new SocketOwners(byInode, unreadable);
    }

    private static ulong SocketInode(string fdPath)
    {
        string? target;
        try { target = new FileInfo(fdPath).LinkTarget; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
        // "socket:[12345]"
        if (target is null || !target.StartsWith("socket:[", StringComparison.Ordinal) || !target.EndsWith(']')) return 0;
        return ulong.TryParse(target.AsSpan(8, target.Length - 9), out var inode) ? inode : 0;
    }

    private static string ReadComm(string dir)
    {
        try { return File.ReadAllText($"{dir}/comm").TrimEnd('\n'); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return "?"; }
    }
}
