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

    private const int SCHED_IDLE = 5;

    /// <summary>Puts the calling thread (alone) in SCHED_IDLE: it runs when a CPU has nothing else
    /// to run, and otherwise at a weight a fifth of nice 19's. False when the kernel refused.</summary>
    public static bool SetIdle()
    {
        int priority = 0; // struct sched_param { int sched_priority; }: 0 for SCHED_IDLE
        return SchedSetScheduler(GetTid(), SCHED_IDLE, ref priority) == 0;
    }

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SchedSetScheduler(int pid, int policy, ref int param);

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int prio);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();
}
