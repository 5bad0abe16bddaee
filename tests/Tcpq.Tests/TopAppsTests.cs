using Tcpq.Aggregates;
using Tcpq.Top;

namespace Tcpq.Tests;

/// <summary>top's line per joined .NET process: the pool now, the interval's injections, pauses and refusals.</summary>
public class TopAppsTests
{
    private static AppReading R(long starved = 0, long blocked = 0, long pauses = 0, double paused = 0, long refused = 0, long samples = 3) =>
        new(812, "web", Threads: 6, QueuedWorkItems: 42, samples, starved, blocked, pauses, paused, refused);

    [Fact]
    public void Counters_are_the_intervals_differences_and_the_pool_is_its_last_sample()
    {
        var line = Assert.Single(TopApps.Lines([R(starved: 1, blocked: 1, pauses: 2, paused: 0.010, refused: 5)], [R(starved: 3, blocked: 2, pauses: 3, paused: 0.0125, refused: 9)]));
        Assert.Equal("app web[812] · pool 6 threads, 42 work items queued · +3 threads injected (2 starvation, 1 blocking) · 1 GC pause, 2.5 ms · 4 refused by Kestrel (in the interval)", line);
        Assert.True(TopApps.Troubled(line));
    }

    [Fact]
    public void A_quiet_interval_and_a_first_reading_say_so()
    {
        var quiet = Assert.Single(TopApps.Lines([R(starved: 1)], [R(starved: 1)]));
        Assert.Equal("app web[812] · pool 6 threads, 42 work items queued · no threads injected · no GC pause · 0 refused by Kestrel (in the interval)", quiet);
        Assert.False(TopApps.Troubled(quiet));
        Assert.StartsWith("app web[812] · pool not sampled yet · ", Assert.Single(TopApps.Lines(null, [R(samples: 0)])));
        Assert.Empty(TopApps.Lines(null, null)); // --dotnet off
    }
}
