using System.Diagnostics;

namespace Tcpq.Events;

/// <summary>Turns the kernel's monotonic ns (bpf_ktime_get_ns, like DTrace's timestamp) into UTC
/// wall time. Stopwatch reads CLOCK_MONOTONIC on Linux, so one offset taken at start serves.</summary>
public sealed class WallClock
{
    private readonly long _utcTicks;
    private readonly long _monotonicNs;

    public WallClock(DateTime utcNow, long monotonicNs)
    {
        _utcTicks = utcNow.Ticks;
        _monotonicNs = monotonicNs;
    }

    public static WallClock System()
    {
        return new WallClock(DateTime.UtcNow, MonotonicNowNs());
    }

    /// <summary>The reference time plus the nanoseconds elapsed since, rounded down to a tick.</summary>
    public DateTime ToUtc(ulong monotonicNs)
    {
        long elapsed = (long)monotonicNs - _monotonicNs;
        long ticks = elapsed / 100;
        if (elapsed % 100 < 0) ticks--;
        return new(_utcTicks + ticks, DateTimeKind.Utc);
    }

    /// <summary>The same instant as ns since the Unix epoch, not rounded (OTLP's times).</summary>
    public ulong ToUnixNs(ulong monotonicNs) =>
        (ulong)((_utcTicks - DateTime.UnixEpoch.Ticks) * 100 + ((long)monotonicNs - _monotonicNs));

    public static long MonotonicNowNs() => (long)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));
}
