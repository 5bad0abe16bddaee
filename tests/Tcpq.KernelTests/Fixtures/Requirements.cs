namespace Tcpq.KernelTests.Fixtures;

/// <summary>What kernel tests need. Missing any of it is a failure, never a silent skip: these
/// tests exist to run against the real kernel.</summary>
public static class Requirements
{
    public static void Check()
    {
        if (Posix.GetEuid() != 0)
            throw new InvalidOperationException("kernel tests need root (they create network namespaces and load BPF programs)");
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            throw new InvalidOperationException("kernel tests need BTF at /sys/kernel/btf/vmlinux");
        if (!File.ReadAllText("/proc/mounts").Contains(" cgroup2 ", StringComparison.Ordinal))
            throw new InvalidOperationException("kernel tests need a cgroup v2 hierarchy mounted");
    }
}
