using Tcpq.Interop;

namespace Tcpq.Bpf;

/// <summary>Checks up front that tcpq may load and attach its programs, so the user gets one clear line.</summary>
internal static class Privileges
{
    private const int CapNetAdmin = 12, CapSysAdmin = 21, CapPerfmon = 38, CapBpf = 39;

    public static void RequireTracing()
    {
        if (Libc.GetEuid() == 0) return;
        ulong caps = EffectiveCapabilities();
        bool ok = Has(caps, CapSysAdmin) || (Has(caps, CapBpf) && Has(caps, CapPerfmon) && Has(caps, CapNetAdmin));
        if (!ok)
            throw new TcpqException(ExitCode.NoPermission,
                "permission denied: tracing needs root, or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (try sudo, or 'tcpq listeners' which needs none)");
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
