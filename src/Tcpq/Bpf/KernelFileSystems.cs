using Tcpq.Interop;

namespace Tcpq.Bpf;

/// <summary>Finds the cgroup v2 root and tracefs, mounting them when they are hidden (as under
/// <c>ip netns exec</c>, which mounts a fresh /sys). What tcpq mounts it unmounts after attaching:
/// attachments live on, nothing is left behind.</summary>
internal static class KernelFileSystems
{
    private const int MNT_DETACH = 2;

    private static int Umount2(string target, int flags) => Libc.Umount2(target, flags);

    /// <summary>An fd for the root of the cgroup v2 hierarchy.</summary>
    public static int OpenCgroupV2Root()
    {
        foreach (var line in ReadMountInfo())
        {
            // id parent major:minor root mountpoint options ... - fstype source superoptions
            var parts = line.Split(' ');
            int dash = Array.IndexOf(parts, "-");
            if (dash < 0 || dash + 1 >= parts.Length || parts[dash + 1] != "cgroup2" || parts[3] != "/") continue;
            int fd = Libc.Open(Unescape(parts[4]), Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
            if (fd >= 0) return fd;
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
            int fd = Libc.Open(dir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
            Umount2(dir, MNT_DETACH);
            if (fd < 0) throw new TcpqException(ExitCode.NoCgroupV2, $"cannot open the cgroup v2 root: {Errno.Text(Errno.Last)}");
            return fd;
        }
        finally
        {
            try { Directory.Delete(dir); } catch (IOException) { }
        }
    }

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
