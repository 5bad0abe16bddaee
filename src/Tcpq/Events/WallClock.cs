using System.Diagnostics;

namespace Tcpq.Events;

/// <summary>Turns the kernel's monotonic ns (bpf_ktime_get_ns, like DTrace's timestamp) into UTC
/// wall time. Stopwatch reads CLOCK_MONOTONIC on Linux, so one offset taken at start serves.</summary>
public sealed class WallClock
{
    private readonly long _offsetTicks;

    public WallClock(DateTime utcNow, long monotonicNs)
    {
        _offsetTicks = utcNow.Ticks - monotonicNs / 100;
    }

    public static WallClock System()
    {
        long mono = (long)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));
        return new WallClock(DateTime.UtcNow, mono);
    }

    public DateTime ToUtc(ulong monotonicNs) => new(_offsetTicks + (long)(monotonicNs / 100), DateTimeKind.Utc);

    public static long MonotonicNowNs() => (long)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));
}
