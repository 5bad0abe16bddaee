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
}
