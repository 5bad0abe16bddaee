using System.Runtime.InteropServices;

namespace Tcpq.Interop;

/// <summary>The calling thread's scheduling, where .NET has no say on Linux (its ThreadPriority is
/// not applied there).</summary>
public static partial class CurrentThread
{
    private const int PRIO_PROCESS = 0;

    /// <summary>Gives the calling thread (alone: Linux takes a thread id for PRIO_PROCESS) the nice
    /// value <paramref name="nice"/>, so that it yields the CPU to the process's other threads when
    /// the CPUs are short. False when the kernel refused (it is then left as it was).</summary>
    public static bool SetNice(int nice) => SetPriority(PRIO_PROCESS, GetTid(), nice) == 0;

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int prio);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();
}
