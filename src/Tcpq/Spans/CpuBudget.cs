namespace Tcpq.Spans;

/// <summary>
/// A thread's share of one CPU, as a token bucket of CPU time: it earns <c>share</c> of each
/// wall-clock nanosecond, up to <c>burst</c>, and spends what it ran. Overdrawn, it should sleep
/// for <see cref="Rest"/>: asleep it holds nothing the rest of the process waits for.
/// </summary>
/// <remarks>
/// Why a budget and not a low priority: the spans' thread was SCHED_IDLE (nice 19 before). On a
/// saturated machine such a thread waits seconds for a CPU, and while it waits it can hold what the
/// ring buffer's reader needs: a garbage collection it started (which runs on its thread, at its
/// priority) or must be stopped for, or the lock of the event that wakes it. The reader then stood
/// still and the kernel's rings overflowed: 1,392,189 events lost in one of 14 runs of
/// <c>trace --otlp-endpoint</c> under connload. A thread at the normal priority gets a CPU within a
/// scheduler slice, and the budget keeps what it takes bounded.
/// </remarks>
public sealed class CpuBudget
{
    private readonly double _share;
    private readonly long _burstNs;
    private readonly Func<long> _cpuNs, _wallNs;
    private readonly TimeSpan _maxRest;
    private long _lastCpu, _lastWall;
    private double _tokens;

    /// <param name="share">Of one CPU, above 0 and at most 1.</param>
    /// <param name="burst">CPU time it may run at once after a rest.</param>
    /// <param name="cpuNs">The thread's CPU time (<see cref="Interop.CurrentThread.CpuTimeNs"/>), read on that thread.</param>
    /// <param name="wallNs">A monotonic clock.</param>
    /// <param name="maxRest">The longest <see cref="Rest"/>: a thread that rests looks up again at least this often.</param>
    public CpuBudget(double share, TimeSpan burst, Func<long> cpuNs, Func<long> wallNs, TimeSpan maxRest)
    {
        if (!(share > 0 && share <= 1)) throw new ArgumentOutOfRangeException(nameof(share));
        _share = share;
        _burstNs = (long)burst.TotalNanoseconds;
        _cpuNs = cpuNs;
        _wallNs = wallNs;
        _maxRest = maxRest;
        _lastCpu = cpuNs();
        _lastWall = wallNs();
        _tokens = _burstNs;
    }

    public double Share => _share;

    /// <summary>CPU time in hand, in nanoseconds (negative: overdrawn).</summary>
    public double Tokens => _tokens;

    /// <summary>Settles the time run and earned since the last call: true when overdrawn.</summary>
    public bool Overdrawn()
    {
        long cpu = _cpuNs(), wall = _wallNs();
        _tokens = Math.Min(_burstNs, _tokens + _share * (wall - _lastWall)) - (cpu - _lastCpu);
        _lastCpu = cpu;
        _lastWall = wall;
        return _tokens < 0;
    }

    /// <summary>How long to sleep to be out of debt (0 when not in debt), at most the longest rest.</summary>
    public TimeSpan Rest =>
        _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromTicks((long)Math.Min(_maxRest.Ticks, Math.Ceiling(-_tokens / _share / 100)));
}
