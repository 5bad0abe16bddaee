using System.Globalization;
using Tcpq.Diag;
using Tcpq.Events;

namespace Tcpq.Dotnet;

/// <summary>What /proc says of a process, as far as joining its runtime is concerned: whether it
/// runs the .NET runtime, where its diagnostics socket is (seen through /proc/PID/root, so a
/// container's /tmp is found from the host), its network namespace and name.</summary>
public sealed record DotnetProcess(int Pid, string Comm, uint NetNs, bool IsDotnet, string? SocketPath, int NsPid, string? TmpDir)
{
    /// <summary>Null when the process is gone or unreadable.</summary>
    public static DotnetProcess? Read(int pid, string proc = "/proc")
    {
        string dir = $"{proc}/{pid.ToString(CultureInfo.InvariantCulture)}";
        try
        {
            string comm = File.ReadAllText($"{dir}/comm").TrimEnd('\n');
            bool dotnet = MapsRuntime($"{dir}/maps");
            uint netns = NetNamespaces.InodeOfLink($"{dir}/ns/net") ?? 0;
            int nsPid = NamespacePid($"{dir}/status") ?? pid;
            string? tmp = TmpDirOf($"{dir}/environ");
            // looked for in every process: a Native AOT app has no libcoreclr.so but may have the socket
            string? socket = FindSocket($"{dir}/root", tmp, nsPid, StartedUtc(proc, $"{dir}/stat"));
            return new DotnetProcess(pid, comm, netns, dotnet, socket, nsPid, tmp);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    public Comm16 Comm16 => Events.Comm16.From(Comm);

    /// <summary>A .NET app compiled ahead of time (Native AOT, built with EventSource support): it
    /// has the runtime's diagnostics socket but no libcoreclr.so. tcpq does not join it: the
    /// reflection its sessions rely on is trimmed away (see <see cref="RequestSpanDecoder"/>).</summary>
    public bool IsNativeAot => !IsDotnet && SocketPath is not null;

    /// <summary>The runtime is a shared library in every .NET process but a Native AOT one (which
    /// has no EventPipe diagnostics socket unless built with it: not supported here).</summary>
    private static bool MapsRuntime(string maps)
    {
        foreach (var line in File.ReadLines(maps))
            if (line.EndsWith("/libcoreclr.so", StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>The pid the process has in its own pid namespace: the runtime names its socket by it.</summary>
    private static int? NamespacePid(string status)
    {
        foreach (var line in File.ReadLines(status))
            if (line.StartsWith("NSpid:", StringComparison.Ordinal))
            {
                var last = line.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[^1];
                return int.TryParse(last, CultureInfo.InvariantCulture, out int p) ? p : null;
            }
        return null;
    }

    /// <summary>The runtime makes its socket in $TMPDIR when the process has one, else /tmp.</summary>
    private static string? TmpDirOf(string environ)
    {
        foreach (var v in File.ReadAllText(environ).Split('\0'))
            if (v.StartsWith("TMPDIR=", StringComparison.Ordinal) && v.Length > 7) return v[7..];
        return null;
    }

    /// <summary>When the process started: the boot time (/proc/stat's btime, whole seconds) plus
    /// its start in clock ticks after boot (/proc/PID/stat's 22nd field; USER_HZ, 100 on Linux).
    /// Null when either is unreadable.</summary>
    private static DateTime? StartedUtc(string proc, string stat)
    {
        try
        {
            string text = File.ReadAllText(stat);
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' '); // after "pid (comm) ": field 3 onwards
            if (fields.Length <= 22 - 3 || !ulong.TryParse(fields[22 - 3], CultureInfo.InvariantCulture, out ulong ticks)) return null;
            foreach (var line in File.ReadLines($"{proc}/stat"))
                if (line.StartsWith("btime ", StringComparison.Ordinal) && long.TryParse(line.AsSpan(6), CultureInfo.InvariantCulture, out long btime))
                    return DateTime.UnixEpoch.AddSeconds(btime).AddMilliseconds(ticks * 10.0);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>A socket made this long before the process's start, as /proc gives it, is still
    /// taken for its own: the boot time is in whole seconds.</summary>
    private static readonly TimeSpan StartSlack = TimeSpan.FromSeconds(1);

    /// <summary><c>dotnet-diagnostic-{pid}-{disambiguation key}-socket</c>; the newest if several.
    /// One made before the process started is an earlier process's that had the same pid and did
    /// not remove it (it was killed): connecting to it fails, and a process started with
    /// DOTNET_EnableDiagnostics=0 would be said to refuse a session instead of having no socket.
    /// Told by the file's time, not by the key: the runtime takes its key from /proc/PID/stat by its
    /// own pid, which in a pid namespace without a /proc of its own is another process's.</summary>
    private static string? FindSocket(string root, string? tmpDir, int nsPid, DateTime? startedUtc)
    {
        string dir = root + (tmpDir ?? "/tmp").TrimEnd('/');
        try
        {
            return new DirectoryInfo(dir).EnumerateFileSystemInfos($"dotnet-diagnostic-{nsPid.ToString(CultureInfo.InvariantCulture)}-*-socket")
                .Where(f => startedUtc is not DateTime started || f.LastWriteTimeUtc >= started - StartSlack)
                .OrderByDescending(f => f.LastWriteTimeUtc).Select(f => f.FullName).FirstOrDefault();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Processes that run .NET and own a listening TCP socket on one of
    /// <paramref name="ports"/> (any port when empty): the ones auto mode joins from the start.</summary>
    public static List<int> ListeningDotnetPids(IReadOnlyList<ushort> ports, string proc = "/proc")
    {
        var found = new List<int>();
        string[] dirs;
        try { dirs = Directory.GetDirectories(proc); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return found; }
        foreach (var d in dirs)
        {
            if (!int.TryParse(Path.GetFileName(d), CultureInfo.InvariantCulture, out int pid) || pid == Environment.ProcessId) continue;
            try
            {
                if (MapsRuntime($"{d}/maps") && OwnsListener(d, ports)) found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return found;
    }

    /// <summary>The ports of <paramref name="ports"/> (every port when empty) the process owns a
    /// listening socket on, in its network namespace; empty when it is gone or unreadable.</summary>
    public static IReadOnlySet<ushort> ListeningPorts(int pid, IReadOnlyList<ushort> ports, string proc = "/proc")
    {
        string dir = $"{proc}/{pid.ToString(CultureInfo.InvariantCulture)}";
        var owned = new HashSet<ushort>();
        try
        {
            var listening = ListeningSockets(dir, ports);
            if (listening.Count > 0)
                foreach (ulong inode in SocketInodes(dir))
                    if (listening.TryGetValue(inode, out ushort port)) owned.Add(port);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return owned;
    }

    /// <summary>The process in <paramref name="dir"/> owns a socket listening on one of <paramref name="ports"/> (any when empty).</summary>
    private static bool OwnsListener(string dir, IReadOnlyList<ushort> ports)
    {
        var listening = ListeningSockets(dir, ports);
        return listening.Count > 0 && SocketInodes(dir).Any(listening.ContainsKey);
    }

    /// <summary>The listening sockets of the process's network namespace on <paramref name="ports"/>: inode → port.</summary>
    private static Dictionary<ulong, ushort> ListeningSockets(string dir, IReadOnlyList<ushort> ports)
    {
        var sockets = new Dictionary<ulong, ushort>();
        foreach (var table in new[] { $"{dir}/net/tcp", $"{dir}/net/tcp6" })
        {
            if (!File.Exists(table)) continue;
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 10 || f[3] != "0A") continue;
                int colon = f[1].LastIndexOf(':');
                if (!ushort.TryParse(f[1].AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ushort port)) continue;
                if (ports.Count > 0 && !ports.Contains(port)) continue;
                if (ulong.TryParse(f[9], CultureInfo.InvariantCulture, out ulong inode) && inode != 0) sockets[inode] = port;
            }
        }
        return sockets;
    }

    /// <summary>The inodes of the sockets the process holds a file descriptor for, read lazily.</summary>
    private static IEnumerable<ulong> SocketInodes(string dir)
    {
        foreach (var fd in Directory.EnumerateFileSystemEntries($"{dir}/fd"))
        {
            string? target;
            try { target = new FileInfo(fd).LinkTarget; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal)
                && ulong.TryParse(target.AsSpan(8, target.Length - 9), CultureInfo.InvariantCulture, out ulong inode))
                yield return inode;
        }
    }
}
