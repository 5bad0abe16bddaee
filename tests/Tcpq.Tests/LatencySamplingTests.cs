using Tcpq.Bpf;

namespace Tcpq.Tests;

public class LatencySamplingTests
{
    [Theory]
    [InlineData("1s/10s", 1000, 10000, "1s/10s")]
    [InlineData("100ms/1s", 100, 1000, "100ms/1s")]
    [InlineData(" 2s/1m ", 2000, 60000, "2s/60s")]
    [InlineData("always", 1000, 1000, "always")]
    [InlineData("ALWAYS", 1000, 1000, "always")]
    [InlineData("off", 0, 0, "off")]
    public void Parses_a_window_in_a_period_or_always_or_off(string text, int windowMs, int periodMs, string shown)
    {
        var s = LatencySampling.Parse(text);
        Assert.NotNull(s);
        Assert.Equal((TimeSpan.FromMilliseconds(windowMs), TimeSpan.FromMilliseconds(periodMs)), (s.Window, s.Period));
        Assert.Equal(shown, s.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("1s")]
    [InlineData("10s/1s")]       // a window longer than its period
    [InlineData("3s/10s")]       // not a whole number of windows
    [InlineData("50ms/1s")]      // a window under 100 ms
    [InlineData("1s/2h")]        // a period over an hour
    [InlineData("1x/10s")]
    [InlineData("-1s/10s")]
    [InlineData("NaNs/10s")]
    [InlineData("1s/10s/20s")]
    public void Refuses_anything_else(string text) => Assert.Null(LatencySampling.Parse(text));

    [Fact]
    public void The_default_is_100ms_in_every_second() => Assert.Equal("100ms/1s", LatencySampling.Default.ToString());
}
