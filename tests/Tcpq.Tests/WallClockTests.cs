using Tcpq.Events;

namespace Tcpq.Tests;

public class WallClockTests
{
    private static readonly DateTime Reference = new(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc);

    [Theory]
    [InlineData(1_000_000_000_000L, 1_000_000_000_000UL, 0L)]
    [InlineData(1_000_000_000_000L, 1_001_234_567_800UL, 12_345_678L)]
    [InlineData(99L, 1_098UL, 9L)]                 // 999 ns later: still within the first microsecond
    [InlineData(1_050L, 1_149UL, 0L)]              // 99 ns later
    [InlineData(1_000_000_000_099L, 1_000_000_000_000UL, -1L)] // 99 ns earlier
    public void Wall_time_is_the_reference_plus_the_elapsed_nanoseconds_in_whole_ticks(long referenceNs, ulong eventNs, long expectedTicks)
    {
        var utc = new WallClock(Reference, referenceNs).ToUtc(eventNs);
        Assert.Equal(DateTimeKind.Utc, utc.Kind);
        Assert.Equal(expectedTicks, (utc - Reference).Ticks);
    }

    [Fact]
    public void The_system_clock_maps_now_to_about_now()
    {
        var clock = WallClock.System();
        var utc = clock.ToUtc((ulong)WallClock.MonotonicNowNs());
        Assert.InRange(utc - DateTime.UtcNow, TimeSpan.FromSeconds(-5), TimeSpan.FromSeconds(5));
    }
}
