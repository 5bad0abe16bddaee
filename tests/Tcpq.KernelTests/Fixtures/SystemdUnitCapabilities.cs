namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// What the shipped systemd unit (deploy/systemd/tcpq.service) gives tcpq, as a setpriv prefix: a
/// user of its own (DynamicUser: not root; nobody here) with the unit's ambient capabilities and
/// bounding set, read from the unit itself so the tests follow it when it changes.
/// </summary>
public static class SystemdUnitCapabilities
{
    public static string Unit => Podman.RepoFile("deploy/systemd/tcpq.service");

    /// <summary>The unit's AmbientCapabilities= (e.g. "bpf", "perfmon"), lower case, without CAP_.</summary>
    public static IReadOnlyList<string> Ambient => Read("AmbientCapabilities=");

    /// <summary>The unit's CapabilityBoundingSet=.</summary>
    public static IReadOnlyList<string> Bounding => Read("CapabilityBoundingSet=");

    /// <summary>setpriv as nobody with the unit's capabilities, and no others; in a mount namespace
    /// of its own where /sys/kernel/tracing holds only the two tracepoint ids, as the unit's
    /// ExecStartPre= and BindReadOnlyPaths= give it (tracefs itself is root's alone, mode 0700).</summary>
    public static string[] Setpriv()
    {
        static string Set(IEnumerable<string> caps) => string.Join(',', ["-all", .. caps.Select(c => "+" + c)]);
        const string tracepointIds =
            "umask 022; d=$(mktemp -d /tmp/tcpq-unit-tracing-XXXXXX) && chmod 755 $d && " +
            "for e in sys_exit_accept4 sys_exit_accept; do mkdir -p $d/events/syscalls/$e && cat /sys/kernel/tracing/events/syscalls/$e/id > $d/events/syscalls/$e/id || exit 1; done; " +
            "mount --bind $d /sys/kernel/tracing && exec \"$@\"";
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", tracepointIds, "unit",
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            $"--inh-caps={Set(Ambient)}", $"--ambient-caps={Set(Ambient)}", $"--bounding-set={Set(Bounding)}"];
    }

    private static List<string> Read(string setting)
    {
        var caps = File.ReadLines(Unit)
            .Where(l => l.StartsWith(setting, StringComparison.Ordinal))
            .SelectMany(l => l[setting.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(c => c.StartsWith("CAP_", StringComparison.Ordinal) ? c[4..].ToLowerInvariant() : throw new InvalidOperationException($"{Unit}: {setting}{c}: not a capability"))
            .Distinct().ToList();
        return caps.Count > 0 ? caps : throw new InvalidOperationException($"{Unit} has no {setting}");
    }
}
