using System.Runtime.InteropServices;

namespace Tcpq.Interop;

/// <summary>The calling thread's own CPU time, which .NET does not give per thread.</summary>
public static partial class CurrentThread
{
    private const int CLOCK_THREAD_CPUTIME_ID = 3;

    /// <summary>CPU time the calling thread has used, in nanoseconds (user and system).</summary>
    public static long CpuTimeNs()
    {
        ClockGetTime(CLOCK_THREAD_CPUTIME_ID, out var ts); // cannot fail for this clock on the calling thread
        return ts.Seconds * 1_000_000_000 + ts.Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec ts);
}
