using Tcpq.Interop;

namespace Tcpq.Tests;

/// <summary>The spans' thread's scheduling: set on the calling thread alone, as the kernel reports it.</summary>
public class CurrentThreadTests
{
    /// <summary>The calling thread's policy and nice value, from /proc/thread-self/sched and stat.</summary>
    private static (int Policy, int Nice) Scheduling()
    {
        var policy = File.ReadLines("/proc/thread-self/sched").Single(l => l.StartsWith("policy", StringComparison.Ordinal));
        var stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // after "pid (comm) ": field 3 onwards
        return (int.Parse(policy.Split(':')[1].Trim()), int.Parse(fields[19 - 3]));
    }

    private static T OnNewThread<T>(Func<T> f)
    {
        T result = default!;
        var t = new Thread(() => result = f());
        t.Start();
        t.Join();
        return result;
    }

    [Fact]
    public void SetIdle_puts_the_calling_thread_alone_in_SCHED_IDLE()
    {
        var (set, idle, other) = OnNewThread(() => (CurrentThread.SetIdle(), Scheduling(), OnNewThread(Scheduling)));
        Assert.True(set);
        Assert.Equal(5, idle.Policy); // SCHED_IDLE
        // not inherited by a thread it starts: thread-pool threads the spans' thread happens to
        // create (serve's endpoint runs on them) keep the normal policy
        Assert.Equal(0, other.Policy);
        Assert.Equal(0, Scheduling().Policy); // SCHED_OTHER: the test's own thread untouched
    }

    [Fact]
    public void SetNice_lowers_the_calling_thread_alone()
    {
        var (set, lowered, other) = OnNewThread(() => (CurrentThread.SetNice(19), Scheduling(), OnNewThread(Scheduling)));
        Assert.True(set);
        Assert.Equal((0, 19), lowered);
        // inherited by a thread it starts, unlike SCHED_IDLE: thread-pool threads the spans' thread
        // happened to create would run at nice 19 too, one reason SCHED_IDLE comes first
        Assert.Equal(19, other.Nice);
        Assert.NotEqual(19, Scheduling().Nice);
    }
}
