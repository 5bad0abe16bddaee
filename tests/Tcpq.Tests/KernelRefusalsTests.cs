using Tcpq.Bpf;
using Tcpq.Interop;

namespace Tcpq.Tests;

public class KernelRefusalsTests
{
    [Theory]
    [InlineData(Errno.EPERM, ExitCode.NoPermission, "attach tcpq_set_state: permission denied (need root or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN)")]
    [InlineData(Errno.EACCES, ExitCode.NoPermission, "attach tcpq_set_state: permission denied (need root or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN)")]
    [InlineData(Errno.ENOENT, ExitCode.MissingTracepoint, "attach tcpq_set_state: no such tracepoint in this kernel")]
    [InlineData(Errno.EINVAL, ExitCode.UnsupportedKernel, "attach tcpq_set_state: Invalid argument")]
    public void A_refused_attach_says_why_with_the_exit_code_of_its_kind(int errno, ExitCode code, string message)
    {
        var e = KernelRefusals.Attach("tcpq_set_state", errno);
        Assert.Equal(code, e.Code);
        Assert.Equal(message, e.Message);
    }
}
