using System.Diagnostics;
using Tcpq.Workloads;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// A process moved into a cgroup v2 of the test's making before it starts (so the sockets it
/// makes belong to that cgroup), in a test's network namespace: how a kubelet-made container looks
/// to the kernel, without Kubernetes. The cgroup directories it made are removed on dispose.
/// </summary>
public sealed class CgroupProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _made;

    /// <summary>The cgroup's path from the hierarchy's root, e.g. /kubepods/besteffort/podUID/ID.</summary>
    public string Cgroup { get; }

    private CgroupProcess(Process process, List<string> made, string cgroup) => (_process, _made, Cgroup) = (process, made, cgroup);

    /// <summary>Starts <paramref name="command"/> in <paramref name="ns"/> inside cgroup
    /// <paramref name="cgroup"/>, and returns once it printed its first line ("listening").</summary>
    public static CgroupProcess Start(NetNamespace ns, string cgroup, params string[] command)
    {
        var root = CgroupDirectory.Find().MountPoint ?? throw new InvalidOperationException("no cgroup v2 hierarchy is mounted");
        var made = new List<string>();
        var dir = root;
        foreach (var part in cgroup.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            dir = Path.Combine(dir, part);
            if (!Directory.Exists(dir))
            {
                Directory.CreateDirectory(dir);
                made.Add(dir);
            }
        }
        // nsenter, not ip netns exec (which mounts a fresh /sys, hiding the cgroup): the shell
        // moves itself into the cgroup, then becomes the command
        var psi = new ProcessStartInfo("nsenter") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])[$"--net={ns.Path}", "--", "sh", "-c", "echo $$ > \"$0\" && shift && exec \"$@\"", Path.Combine(dir, "cgroup.procs"), "--", .. command])
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var started = new CgroupProcess(p, made, cgroup);
        var first = p.StandardOutput.ReadLineAsync();
        if (!first.Wait(TimeSpan.FromSeconds(20)) || first.Result is null)
        {
            var error = p.HasExited ? p.StandardError.ReadToEnd() : "no output in 20 s";
            started.Dispose();
            throw new InvalidOperationException($"{string.Join(' ', command)} in cgroup {cgroup} did not start: {error}");
        }
        return started;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill();
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
        // deepest first; a directory another test still uses (a shared parent) stays
        for (int i = _made.Count - 1; i >= 0; i--)
        {
            try { Directory.Delete(_made[i]); } catch (IOException) { }
        }
    }
}
