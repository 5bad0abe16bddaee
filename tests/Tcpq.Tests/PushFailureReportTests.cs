using Tcpq.Serve;

namespace Tcpq.Tests;

/// <summary>OTLP push failures are said when they happen, at most once a minute, and never with
/// the credentials a URL carried.</summary>
public class PushFailureReportTests
{
    [Fact]
    public void Failures_are_said_at_once_then_at_most_once_a_minute_and_recovery_once()
    {
        var now = new DateTime(2026, 12, 7, 0, 0, 0, DateTimeKind.Utc);
        var messages = new StringWriter();
        var report = new PushFailureReport("OTLP push to http://c:4318/v1/metrics", messages, () => now);
        report.Succeeded();
        Assert.Equal("", messages.ToString()); // nothing to say while it works
        report.Failed("Connection refused (c:4318)");
        for (int i = 0; i < 11; i++) { now += TimeSpan.FromSeconds(5); report.Failed("Connection refused (c:4318)"); }
        var lines = messages.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Equal("tcpq: OTLP push to http://c:4318/v1/metrics failed: Connection refused (c:4318); retrying every interval, said at most once a minute", lines[0]);
        now += TimeSpan.FromSeconds(5); // a minute after the first message
        report.Failed("the collector answered 503 Service Unavailable");
        lines = messages.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains("failed: the collector answered 503 Service Unavailable (11 more failed since the last message)", lines[1]);
        report.Succeeded();
        report.Succeeded();
        lines = messages.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Equal("tcpq: OTLP push to http://c:4318/v1/metrics works again", lines[2]);
        Assert.Equal(13, report.Failures);
    }

    [Theory]
    [InlineData("http://user:pass@collector:4318/v1/metrics", "http://…@collector:4318/v1/metrics")]
    [InlineData("https://collector:4318/v1/metrics?api_key=s3cret", "https://collector:4318/v1/metrics?…")]
    [InlineData("http://collector:4318/v1/metrics", "http://collector:4318/v1/metrics")]
    [InlineData("not a url://admin:s3cret@x?token=1", "not a url://…@x?…")]
    public void Credentials_in_urls_are_never_printed(string given, string shown) => Assert.Equal(shown, RedactedUrl.Of(given));
}
