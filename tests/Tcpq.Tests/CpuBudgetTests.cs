using Tcpq.Spans;

namespace Tcpq.Tests;

/// <summary>The spans' thread's share of a CPU (<see cref="CpuBudget"/>), on clocks the test moves.</summary>
public class CpuBudgetTests
{
    private long _cpu, _wall;
    private const long Ms = 1_000_000;

    private CpuBudget Budget(double share, int burstMs, int maxRestMs = 1000) =>
        new(share, TimeSpan.FromMilliseconds(burstMs), () => _cpu, () => _wall, TimeSpan.FromMilliseconds(maxRestMs));

    [Fact]
    public void A_burst_is_allowed_at_once_and_then_only_the_share_of_the_time_that_passes()
    {
        var b = Budget(0.1, burstMs: 10);
        _cpu += 10 * Ms; // the whole burst, no time passed
        Assert.False(b.Overdrawn());
        _cpu += 1 * Ms;
        Assert.True(b.Overdrawn());
        Assert.Equal(TimeSpan.FromMilliseconds(10), b.Rest); // 1 ms owed at 10 % takes 10 ms
        _wall += 10 * Ms;
        Assert.False(b.Overdrawn());
        // then 10 % of the time: 1 ms of each 10
        _wall += 10 * Ms;
        _cpu += 1 * Ms;
        Assert.False(b.Overdrawn());
        _wall += 10 * Ms;
        _cpu += 2 * Ms;
        Assert.True(b.Overdrawn());
    }

    [Fact]
    public void Time_idle_earns_no_more_than_the_burst_and_a_rest_is_capped()
    {
        var b = Budget(0.05, burstMs: 50, maxRestMs: 100);
        _wall += 3600_000 * Ms; // an hour with nothing to do
        _cpu += 50 * Ms;
        Assert.False(b.Overdrawn());
        Assert.Equal(0, b.Tokens);
        _cpu += 1000 * Ms; // a second over: 20 s of rest at 5 %
        Assert.True(b.Overdrawn());
        Assert.Equal(TimeSpan.FromMilliseconds(100), b.Rest); // capped

        var uncapped = Budget(0.05, burstMs: 50, maxRestMs: 60_000);
        _cpu += 1050 * Ms;
        Assert.True(uncapped.Overdrawn());
        Assert.Equal(TimeSpan.FromSeconds(20), uncapped.Rest);
        Assert.Equal(TimeSpan.Zero, Budget(0.5, 10).Rest);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void A_share_must_be_of_one_cpu(double share) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Budget(share, 10));
}
