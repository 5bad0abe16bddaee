namespace Tcpq.Bpf;

/// <summary>Checks up front that tcpq may load and attach its programs, so the user gets one clear line.</summary>
internal static class Privileges
{
    private const int CapDacOverride = 1, CapNetAdmin = 12, CapSysPtrace = 19, CapSysAdmin = 21, CapPerfmon = 38, CapBpf = 39;

    /// <summary>What --dotnet auto needs to find and join .NET processes of other users (tested
    /// with setpriv): CAP_SYS_PTRACE to read their /proc/PID/fd, maps and root, CAP_DAC_OVERRIDE to
    /// connect to their diagnostics socket (mode 0600). The names of those missing, or none.</summary>
    public static IReadOnlyList<string> MissingForOtherUsersProcesses()
    {
        ulong caps = EffectiveCapabilities();
        return [.. new[] { (CapSysPtrace, "CAP_SYS_PTRACE"), (CapDacOverride, "CAP_DAC_OVERRIDE") }.Where(c => !Has(caps, c.Item1)).Select(c => c.Item2)];
    }

    /// <summary>By the effective capabilities, also for root: root in a container, or under a
    /// bounding set without CAP_PERFMON, would otherwise reach the verifier and be refused there with
    /// EINVAL, which reads like a kernel too old.</summary>
    public static void RequireTracing()
    {
        ulong caps = EffectiveCapabilities();
        bool ok = Has(caps, CapSysAdmin) || (Has(caps, CapBpf) && Has(caps, CapPerfmon) && Has(caps, CapNetAdmin));
        if (ok) return;
        var missing = new[] { (CapBpf, "CAP_BPF"), (CapPerfmon, "CAP_PERFMON"), (CapNetAdmin, "CAP_NET_ADMIN") }
            .Where(c => !Has(caps, c.Item1)).Select(c => c.Item2);
        throw new TcpqException(ExitCode.NoPermission,
            $"permission denied: tracing needs root, or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN; missing {string.Join(", ", missing)} (try sudo, or 'tcpq listeners' which needs none)");
    }

    private static bool Has(ulong caps, int cap) => (caps & (1UL << cap)) != 0;

    private static ulong EffectiveCapabilities()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                return Convert.ToUInt64(line[7..].Trim(), 16);
        return 0;
    }
}
