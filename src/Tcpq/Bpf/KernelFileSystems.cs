using Tcpq.Interop;

namespace Tcpq.Bpf;

/// <summary>Finds the cgroup v2 root and tracefs, mounting them when they are hidden (as under
/// <c>ip netns exec</c>, which mounts a fresh /sys). What tcpq mounts it unmounts after attaching:
/// attachments live on, nothing is left behind.</summary>
internal static class KernelFileSystems
{
    private const int MNT_DETACH = 2;

    private static int Umount2(string target, int flags) => Libc.Umount2(target, flags);

    /// <summary>The root directory of the cgroup v2 hierarchy, open.</summary>
    public static SafeFdHandle OpenCgroupV2Root()
    {
        foreach (var line in ReadMountInfo())
        {
            // id parent major:minor root mountpoint options ... - fstype source superoptions
            var parts = line.Split(' ');
            int dash = Array.IndexOf(parts, "-");
            if (dash < 0 || dash + 1 >= parts.Length || parts[dash + 1] != "cgroup2" || parts[3] != "/") continue;
            var root = OpenDirectory(Unescape(parts[4]));
            if (!root.IsInvalid) return root;
            root.Dispose();
        }
        var dir = Path.Combine(Path.GetTempPath(), $"tcpq-cgroup2-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            if (Libc.Mount("cgroup2", dir, "cgroup2", 0, 0) != 0)
            {
                int errno = Errno.Last;
                throw new TcpqException(errno == Errno.EPERM ? ExitCode.NoPermission : ExitCode.NoCgroupV2,
                    $"no cgroup v2 hierarchy is mounted and mounting one failed: {Errno.Text(errno)}");
            }
            var mounted = OpenDirectory(dir);
            int openErrno = Errno.Last; // before umount2 sets it again
            Umount2(dir, MNT_DETACH); // the open directory keeps the mount reachable
            if (mounted.IsInvalid) throw new TcpqException(ExitCode.NoCgroupV2, $"cannot open the cgroup v2 root: {Errno.Text(openErrno)}");
            return mounted;
        }
        finally
        {
            try { Directory.Delete(dir); } catch (IOException) { }
        }
    }

    private static SafeFdHandle OpenDirectory(string path) => Libc.Open(path, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);

    /// <summary>Makes sure libbpf can find tracepoint ids; returns a path to unmount after attaching, or null.</summary>
    public static string? EnsureTracefs()
    {
        if (Directory.Exists("/sys/kernel/tracing/events") || Directory.Exists("/sys/kernel/debug/tracing/events"))
            return null;
        const string target = "/sys/kernel/tracing";
        if (Directory.Exists(target) && Libc.Mount("nodev", target, "tracefs", 0, 0) == 0)
            return target;
        int errno = Errno.Last;
        throw new TcpqException(errno == Errno.EPERM ? ExitCode.NoPermission : ExitCode.MissingTracepoint,
            $"tracefs is not mounted and mounting it at {target} failed: {Errno.Text(errno)}");
    }

    public static void Unmount(string? path)
    {
        if (path != null) Umount2(path, MNT_DETACH);
    }

    private static IEnumerable<string> ReadMountInfo()
    {
        try { return File.ReadAllLines("/proc/self/mountinfo"); }
        catch (IOException) { return []; }
    }

    private static string Unescape(string s) => s.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\134", "\\");
}
