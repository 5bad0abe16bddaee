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

    /// <summary>setpriv as nobody with the unit's capabilities, and no others.</summary>
    public static string[] Setpriv()
    {
        static string Set(IEnumerable<string> caps) => string.Join(',', ["-all", .. caps.Select(c => "+" + c)]);
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
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
