using Tcpq.Interop;

namespace Tcpq.Bpf;

/// <summary>What the kernel's refusal to load or attach tcpq's programs means for the user: the
/// exit code of its kind and one line saying why, from the errno and libbpf's log.</summary>
internal static class KernelRefusals
{
    public static TcpqException Load(int errno)
    {
        const string what = "load BPF programs";
        if (errno == Errno.EPERM || errno == Errno.EACCES && !LibbpfLog.Tail().Contains("invalid", StringComparison.Ordinal))
            return new TcpqException(ExitCode.NoPermission, $"{what}: permission denied (need root or CAP_BPF and CAP_PERFMON)");
        if (LibbpfLog.Contains("failed to find kernel BTF type ID") || LibbpfLog.Contains("failed to find BTF for extern"))
            return new TcpqException(ExitCode.MissingTracepoint, $"{what}: a BTF tracepoint tcpq needs is missing in this kernel ({LibbpfLog.LastLine()})");
        return new TcpqException(ExitCode.UnsupportedKernel, $"{what}: the kernel refused them ({Errno.Text(errno)}); this kernel may be too old (tcpq needs Linux 6.2+). Run with --verbose for the verifier log");
    }

    public static TcpqException Attach(string what, int errno) => errno switch
    {
        Errno.EPERM or Errno.EACCES => new TcpqException(ExitCode.NoPermission, $"attach {what}: permission denied (need root or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN)"),
        Errno.ENOENT => new TcpqException(ExitCode.MissingTracepoint, $"attach {what}: no such tracepoint in this kernel"),
        _ => new TcpqException(ExitCode.UnsupportedKernel, $"attach {what}: {Errno.Text(errno)}"),
    };
}
