using Tcpq.Events;

namespace Tcpq.Bpf;

/// <summary>The running kernel's drop reasons, for every verb that loads the programs: a static
/// extension of <see cref="DropReasons"/> (which knows no BTF, in Events/) kept where BTF is read.</summary>
public static class KernelDropReasons
{
    extension(DropReasons)
    {
        /// <summary>The names of <c>enum skb_drop_reason</c> from /sys/kernel/btf/vmlinux (the
        /// numbers differ between kernels).</summary>
        public static DropReasons FromKernel()
        {
            using var btf = KernelBtf.Open(KernelBtf.VmlinuxPath);
            var names = btf.EnumValues("skb_drop_reason")
                ?? throw new TcpqException(ExitCode.UnsupportedKernel, "this kernel has no enum skb_drop_reason: tcpq needs Linux 6.2 or later");
            return new DropReasons(names);
        }
    }
}
