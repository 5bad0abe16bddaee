using System.Runtime.InteropServices;

namespace Tcpq.KernelTests.Fixtures;

public static partial class Posix
{
    public const int CLONE_NEWNET = 0x40000000;

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    public static partial int SetNs(int fd, int nstype);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int sig);

    public const int SIGINT = 2, SIGTERM = 15, SIGSTOP = 19, SIGCONT = 18;

    /// <summary>A prefix that starts a command with SIGINT at its default action. A process whose
    /// parent ignores SIGINT (a shell's background job, and every process it starts, this test
    /// host included) inherits SIG_IGN, and .NET then keeps ignoring it, as tools should; the tests
    /// stop tcpq with SIGINT as Ctrl-C would, so they must not depend on how they were started.</summary>
    public static readonly string[] WithDefaultSigint = ["env", "--default-signal=INT"];
}
