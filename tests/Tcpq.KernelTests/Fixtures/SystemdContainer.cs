namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// A real systemd to start units under, since the test host has none: this machine's own
/// /lib/systemd/systemd as PID 1 of a <see cref="HostRootContainer"/> in a test's network
/// namespace. Privileged, because systemd itself sets up each unit's user, capabilities, mounts
/// and seccomp filters. It boots journald and nothing else, and every unit installed gets
/// <c>DefaultDependencies=no</c>: sysinit.target would run systemd-sysctl and modules-load, which
/// from a privileged container reach the host's kernel (both are masked as well).
/// </summary>
public sealed class SystemdContainer : IDisposable
{
    private readonly HostRootContainer _container;

    private SystemdContainer(HostRootContainer container) => _container = container;

    public static SystemdContainer Boot(NetNamespace ns)
    {
        var container = HostRootContainer.Start(ns, ["--privileged", "--systemd=always"],
            "/lib/systemd/systemd", "--unit=systemd-journald.service",
            "systemd.mask=systemd-sysctl.service", "systemd.mask=systemd-modules-load.service");
        var systemd = new SystemdContainer(container);
        try
        {
            string state = "";
            for (int i = 0; i < 100 && state is not ("running" or "degraded"); i++, Thread.Sleep(100))
                state = container.Exec("systemctl", "is-system-running").Output.Trim();
            if (state is not ("running" or "degraded"))
                throw new InvalidOperationException($"systemd in {container.Name} did not finish booting: {state}");
            return systemd;
        }
        catch
        {
            systemd.Dispose();
            throw;
        }
    }

    /// <summary>Installs <paramref name="text"/> as /etc/systemd/system/<paramref name="unit"/>, with
    /// the drop-in that keeps sysinit.target out, and reloads.</summary>
    public void Install(string unit, string text)
    {
        _container.Write($"/etc/systemd/system/{unit}", text);
        _container.Write($"/etc/systemd/system/{unit}.d/no-sysinit.conf", "[Unit]\nDefaultDependencies=no\n");
        Systemctl("daemon-reload");
    }

    /// <summary>A file inside (into the container's throwaway layer): a drop-in, a config.</summary>
    public void Write(string path, string text) => _container.Write(path, text);

    /// <summary>systemctl start; true when systemd started it (for Type=simple: forked, whatever the
    /// process then does; a failing unit is not an exception here).</summary>
    public bool Start(string unit) => _container.Exec("systemctl", "start", unit).Code == 0;

    public void Stop(string unit) => Systemctl("stop", unit);

    /// <summary>One property, as <c>systemctl show -p</c> gives it.</summary>
    public string Show(string unit, string property) => Systemctl("show", "-p", property, "--value", unit).Trim();

    /// <summary>What the unit's processes and systemd said about it.</summary>
    public string Journal(string unit) => _container.Exec("journalctl", "-u", unit, "-o", "cat", "--no-pager").Output;

    /// <summary>/proc/PID/status of the unit's main process (its user, groups, capabilities, seccomp).</summary>
    public string MainProcessStatus(string unit)
    {
        var pid = Show(unit, "MainPID");
        var (code, output) = _container.Exec("cat", $"/proc/{pid}/status");
        return code == 0 ? output : throw new InvalidOperationException($"{unit}: no main process ({pid}): {output.Trim()}");
    }

    private string Systemctl(params string[] args)
    {
        var (code, output) = _container.Exec(["systemctl", .. args]);
        return code == 0 ? output : throw new InvalidOperationException($"systemctl {string.Join(' ', args)} exited {code}: {output.Trim()}");
    }

    public void Dispose() => _container.Dispose();
}
