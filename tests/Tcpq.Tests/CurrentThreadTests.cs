using Tcpq.Interop;

namespace Tcpq.Tests;

/// <summary>The calling thread's own CPU time, which the spans' thread's budget is kept in.</summary>
public class CurrentThreadTests
{
    private static long Spin(int n)
    {
        long x = 0;
        for (int i = 0; i < n; i++) x = x * 31 + i;
        return x;
    }

    [Fact]
    public void CpuTimeNs_counts_the_calling_threads_work_alone()
    {
        long before = CurrentThread.CpuTimeNs();
        long spun = 0, spinnerCpu = 0;
        // another thread's work while this one waits for it: not this thread's time
        var other = new Thread(() =>
        {
            long start = CurrentThread.CpuTimeNs();
            spun = Spin(200_000_000);
            spinnerCpu = CurrentThread.CpuTimeNs() - start;
        });
        other.Start();
        other.Join();
        long waited = CurrentThread.CpuTimeNs() - before;
        Assert.NotEqual(0, spun);
        Assert.True(spinnerCpu > 0, "the spinning thread's CPU time grows");
        Assert.True(waited < spinnerCpu, $"the waiting thread's CPU time ({waited} ns) is not the spinner's ({spinnerCpu} ns)");
        long mine = CurrentThread.CpuTimeNs();
        Spin(50_000_000);
        Assert.True(CurrentThread.CpuTimeNs() > mine, "its own work counts");
    }
}
