using System.Diagnostics;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// A podman container whose root is this machine's own, overlaid (<c>--rootfs /:O</c>: writes go
/// to a layer thrown away with it), in a test's network namespace: this machine's systemd, curl
/// and tcpq run with a container's capabilities, seccomp profile and mounts, without an image or a
/// registry. The tested tcpq is bound at <c>/usr/local/bin/tcpq</c>, where the unit and the image
/// have it. podman runs with a containers.conf of its own (through CONTAINERS_CONF, never /etc):
/// runc, since crun refuses this hybrid cgroup host; the cgroupfs manager and file events, since
/// the host has no systemd.
/// </summary>
public sealed class HostRootContainer : IDisposable
{
    private static int _count;

    public string Name { get; }

    private HostRootContainer(string name) => Name = name;

    /// <summary>Starts <paramref name="command"/> detached, with <paramref name="options"/> for podman run.</summary>
    public static HostRootContainer Start(NetNamespace ns, string[] options, params string[] command)
    {
        var name = $"tcpqt-{Environment.ProcessId}-{Interlocked.Increment(ref _count)}";
        var (code, output) = Podman(["run", "-d", "--name", name, .. Common(ns), .. options, "--rootfs", "/:O", .. command]);
        if (code != 0)
        {
            Podman("rm", "-f", "-t", "0", name);
            throw new InvalidOperationException($"podman run {string.Join(' ', command)} exited {code}: {output.Trim()}");
        }
        return new HostRootContainer(name);
    }

    /// <summary>Runs <paramref name="command"/> to its end; its exit code and what it said.</summary>
    public static (int Code, string Output) RunToEnd(NetNamespace ns, string[] options, params string[] command) =>
        Podman(["run", "--rm", .. Common(ns), .. options, "--rootfs", "/:O", .. command]);

    /// <summary>A command inside; its exit code and what it said (stdout, then stderr).</summary>
    public (int Code, string Output) Exec(params string[] command) => Podman(["exec", Name, .. command]);

    /// <summary>What the container's command has said so far.</summary>
    public string Logs() => Podman("logs", Name).Output;

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> inside (into the throwaway layer).</summary>
    public void Write(string path, string text)
    {
        var (code, output) = Podman(["exec", "-i", Name, "sh", "-c", "mkdir -p \"$(dirname \"$1\")\" && cat > \"$1\"", "sh", path], text);
        if (code != 0) throw new InvalidOperationException($"writing {path} in {Name}: {output.Trim()}");
    }

    public void Dispose() => Podman("rm", "-f", "-t", "0", Name);

    private static string[] Common(NetNamespace ns)
    {
        var binary = TcpqBinary.Path;
        // the unit forbids writable executable memory, the image holds one file: the Native AOT build
        if (File.Exists(Path.Combine(Path.GetDirectoryName(binary)!, "tcpq.dll")))
            throw new InvalidOperationException($"{binary} is a framework-dependent build: the deploy tests run the Native AOT one (scripts/setup)");
        return
        [
            "--network", $"ns:{ns.Path}",
            // fresh, not copied up: the host's /tmp holds other processes' sockets and pipes
            "--tmpfs", "/tmp:rw,notmpcopyup", "--tmpfs", "/var/tmp:rw,notmpcopyup", "--tmpfs", "/run:rw,notmpcopyup",
            "-v", $"{binary}:/usr/local/bin/tcpq:ro",
        ];
    }

    private static (int Code, string Output) Podman(params string[] args) => Podman(args, null);

    private static (int Code, string Output) Podman(string[] args, string? stdin)
    {
        Requirements.Check();
        foreach (var tool in new[] { "podman", "runc" })
            if (!Environment.GetEnvironmentVariable("PATH")!.Split(':').Any(d => File.Exists(Path.Combine(d, tool))))
                throw new InvalidOperationException($"the deploy tests need {tool} (apt-get install podman runc; scripts/setup --test does)");
        var psi = new ProcessStartInfo("podman") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin != null, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["CONTAINERS_CONF"] = Fixtures.Podman.ContainersConf;
        using var p = Process.Start(psi)!;
        if (stdin != null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            p.Kill(true);
            throw new TimeoutException($"podman {string.Join(' ', args)} did not finish in 2 minutes");
        }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
