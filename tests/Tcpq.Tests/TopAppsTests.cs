using Tcpq.Aggregates;
using Tcpq.Connections;
using Spectre.Console;
using Spectre.Console.Testing;
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
        Assert.Equal("app web[812] · pool 6 threads, 42 work items queued · +3 threads injected (2 starvation, 1 blocking) · 1 GC pause, 2.5 ms · 4 refused by Kestrel (in the interval)", line.Text);
        Assert.Equal(Severity.Warning, line.Severity); // the pool had to add threads: drawn as a listener with a warning
    }

    [Fact]
    public void A_quiet_interval_and_a_first_reading_say_so()
    {
        var quiet = Assert.Single(TopApps.Lines([R(starved: 1)], [R(starved: 1)]));
        Assert.Equal("app web[812] · pool 6 threads, 42 work items queued · no threads injected · no GC pause · 0 refused by Kestrel (in the interval)", quiet.Text);
        Assert.Equal(Severity.Info, quiet.Severity);
        Assert.StartsWith("app web[812] · pool not sampled yet · ", Assert.Single(TopApps.Lines(null, [R(samples: 0)])).Text);
        Assert.Empty(TopApps.Lines(null, null)); // --dotnet off
    }
}

/// <summary>On the terminal, a .NET line is coloured as a listener's row is: by severity.</summary>
public class TopScreenColourTests
{
    [Fact]
    public void An_app_line_that_had_threads_injected_is_drawn_in_the_colour_of_a_warning_and_a_quiet_one_plainly()
    {
        var frame = new TopFrame(new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), 1, [], TopSort.Worst, false, 0, 0)
        {
            AppLines = [new AppLine("app troubled[1]", Severity.Warning), new AppLine("app quiet[2]", Severity.Info)],
        };
        var console = new Spectre.Console.Testing.TestConsole().Width(120).Colors(ColorSystem.Standard).EmitAnsiSequences();
        console.Write(TopScreen.Render(frame, "ebpf", paused: false, width: 120));
        string screen = console.Output;
        const string Yellow = "\e[93m", Red = "\e[91m";
        Assert.Contains(Yellow + "app troubled[1]", screen);
        Assert.DoesNotContain(Red + "app troubled[1]", screen);
        Assert.Contains("app quiet[2]", screen);
        Assert.DoesNotContain(Yellow + "app quiet[2]", screen);
    }
}
