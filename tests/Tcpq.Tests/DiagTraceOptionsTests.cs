using Tcpq.Commands;

namespace Tcpq.Tests;

public class DiagTraceOptionsTests
{
    [Theory]
    [InlineData("100", 100)]
    [InlineData("250ms", 250)]
    [InlineData("0.5s", 500)]
    [InlineData("10", 10)]
    [InlineData("60s", 60_000)]
    public void The_interval_is_milliseconds_unless_it_says_seconds(string text, double ms)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(ms), CommonOptions.ParseInterval(text));
    }

    [Theory]
    [InlineData("5")]
    [InlineData("61s")]
    [InlineData("fast")]
    [InlineData("NaN")]
    [InlineData("-100")]
    public void A_bad_interval_is_a_usage_error(string text)
    {
        var e = Assert.Throws<TcpqException>(() => CommonOptions.ParseInterval(text));
        Assert.Equal(ExitCode.Usage, e.Code);
    }
}
