namespace Tcpq;

/// <summary>Exit codes: one per kind of failure, listed in --help and docs/trace.md (a test keeps that table equal to this enum).</summary>
public enum ExitCode
{
    Ok = 0,
    Failure = 1,          // anything unexpected (a bug): the message says what failed
    Usage = 2,            // unknown flag or command, a malformed option value
    BadPort = 3,          // a port that is not a number in 1..65535
    NoPermission = 4,     // not root / no CAP_BPF+CAP_PERFMON
    NoBtf = 5,            // /sys/kernel/btf/vmlinux missing
    NoCgroupV2 = 6,       // no cgroup v2 hierarchy found and none could be mounted
    MissingTracepoint = 7,// a tracepoint or BTF tracepoint tcpq needs is not in this kernel
    UnsupportedKernel = 8,// the kernel refuses the programs for another reason (too old)
    BadInput = 9,         // a corrupt, truncated or foreign input file
    MissingLibrary = 10,  // libbpf.so.1 not installed
    NoInput = 11,         // an input file that cannot be read: missing, unreadable, a directory
    BadConfig = 12,       // a bad --web-config file (YAML, keys, certificates, hashes)
    BadOtlp = 13,         // an OTLP endpoint, protocol or headers (flag or OTEL_EXPORTER_OTLP_* variable) that cannot be used
}
