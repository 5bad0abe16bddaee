using Tcpq.Interop;

namespace Tcpq.Diag;

/// <summary>
/// Network namespaces by path (<c>/run/netns/NAME</c>, <c>/proc/PID/ns/net</c>). Work in another
/// namespace runs on a dedicated thread that enters it with setns: a netlink socket opened there
/// stays bound to that namespace, and the process's other threads are not moved.
/// </summary>
public static class NetNamespaces
{
    /// <summary>The inode number of the calling thread's network namespace (what tcpq's netns column shows).</summary>
    public static uint CurrentInode() => InodeOfLink("/proc/thread-self/ns/net")
        ?? throw new TcpqException(ExitCode.Failure, "cannot read /proc/thread-self/ns/net: is /proc mounted?");

    /// <summary>The namespace inode a <c>/proc/PID/ns/net</c> link names, or null when it cannot be read.</summary>
    public static uint? InodeOfLink(string path)
    {
        try
        {
            var target = new FileInfo(path).LinkTarget; // "net:[4026531840]"
            if (target is null || !target.StartsWith("net:[", StringComparison.Ordinal) || !target.EndsWith(']')) return null;
            return uint.TryParse(target.AsSpan(5, target.Length - 6), out var ino) ? ino : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Runs <paramref name="work"/> inside the namespace at <paramref name="path"/>, or
    /// on the calling thread when <paramref name="path"/> is null or names the current namespace
    /// (which needs no privilege).</summary>
    public static T RunIn<T>(string? path, Func<T> work)
    {
        if (path is null || InodeOfLink(path) is uint ino && ino == CurrentInode()) return work();

        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                Enter(path);
                result = work();
            }
            catch (Exception e) { error = e; }
        }, maxStackSize: 256 * 1024) { Name = "tcpq netns", IsBackground = true };
        thread.Start();
        thread.Join();
        if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        return result;
    }

    // Only ever called on a thread made for it: the thread stays in the namespace until it ends.
    private static void Enter(string path)
    {
        NativeLibraryResolver.Install();
        if (Directory.Exists(path))
            throw NotANamespace(path);
        Microsoft.Win32.SafeHandles.SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TcpqException(ExitCode.Usage, $"network namespace {path}: no such file");
        }
        catch (UnauthorizedAccessException)
        {
            throw new TcpqException(ExitCode.NoPermission, $"network namespace {path}: permission denied");
        }
        catch (IOException e)
        {
            throw new TcpqException(ExitCode.Usage, $"network namespace {path}: {e.Message}");
        }
        using (handle)
        {
            if (Netlink.SetNs((int)handle.DangerousGetHandle(), Netlink.CLONE_NEWNET) == 0) return;
            int errno = Errno.Last;
            throw errno switch
            {
                Errno.EINVAL => NotANamespace(path), // not an nsfs file, or not a network one
                Errno.EPERM => new TcpqException(ExitCode.NoPermission, $"enter network namespace {path}: permission denied (needs root or CAP_SYS_ADMIN)"),
                _ => new TcpqException(ExitCode.Failure, $"enter network namespace {path}: {Errno.Text(errno)}"),
            };
        }
    }

    private static TcpqException NotANamespace(string path) =>
        new(ExitCode.Usage, $"{path} is not a network namespace (expected a file such as /run/netns/NAME or /proc/PID/ns/net)");

    /// <summary>One path per network namespace a process holds (the first process found), then
    /// the names <c>ip netns</c> keeps in /run/netns, which may hold no process. The /run/netns
    /// ones are not deduplicated here: their inode is only known from inside.</summary>
    public static List<string> All()
    {
        var paths = new List<string>();
        var seen = new HashSet<uint>();
        foreach (var dir in EnumerateSafely("/proc", directories: true))
        {
            var name = Path.GetFileName(dir);
            if (name.Length == 0 || !name.All(char.IsAsciiDigit)) continue;
            var link = $"/proc/{name}/ns/net";
            if (InodeOfLink(link) is uint ino && seen.Add(ino)) paths.Add(link);
        }
        paths.AddRange(EnumerateSafely("/run/netns", directories: false).Order(StringComparer.Ordinal));
        return paths;
    }

    private static IEnumerable<string> EnumerateSafely(string dir, bool directories)
    {
        try
        {
            return directories ? Directory.GetDirectories(dir) : Directory.GetFiles(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
