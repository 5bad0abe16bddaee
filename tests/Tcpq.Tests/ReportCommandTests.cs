using System.Text;
using System.Text.Json;
using Tcpq.Commands;
using Tcpq.Output;

namespace Tcpq.Tests;

public class ReportCommandTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    private static (int Code, string Stdout, string Stderr) Run(string path, SummaryFormat format, bool lenient = false)
    {
        var console = new TestConsole();
        int code = new ReportCommand(new ReportOptions(path, format, lenient), console.Console).Run();
        return (code, console.Out, console.Error);
    }

    [Fact]
    public void The_seeds_sample_is_one_slow_connection_and_a_backlog_too_small()
    {
        var (code, json, _) = Run(Fixture("seed-sample.csv"), SummaryFormat.Json);
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(json);
        var port = Assert.Single(doc.RootElement.GetProperty("ports").EnumerateArray());
        Assert.Equal(2000, port.GetProperty("port").GetInt32());
        Assert.Equal(JsonValueKind.Null, port.GetProperty("address").ValueKind); // the seed format has no Dest IP
        Assert.Equal(1, port.GetProperty("connections").GetInt32());
        Assert.Equal(3, port.GetProperty("retries").GetInt32());
        Assert.Equal(3, port.GetProperty("drops").GetProperty("accept-queue-full").GetInt32());
        Assert.Equal(7_010_737, port.GetProperty("handshake_us").GetProperty("max").GetInt64());
        var slow = Assert.Single(port.GetProperty("slowest").EnumerateArray());
        Assert.Equal("172.16.170.1", slow.GetProperty("source").GetString());
        Assert.Equal((50066, 4, 3), (slow.GetProperty("source_port").GetInt32(), slow.GetProperty("attempts").GetInt32(), slow.GetProperty("drops").GetInt32()));
        Assert.StartsWith("172.16.170.1:50066 → :2000  SYN ×4 (3 dropped: accept-queue-full, Q 2/2) · established after 7.01 s", slow.GetProperty("text").GetString());

        var finding = doc.RootElement.GetProperty("findings")[0];
        Assert.Equal("backlog-too-small", finding.GetProperty("rule").GetString());
        Assert.Equal("critical", finding.GetProperty("severity").GetString());
        Assert.Contains("the accept queue of :2000 (Qmax 2) was full", finding.GetProperty("text").GetString());
        Assert.Contains("clients waited up to 7.01 s", finding.GetProperty("text").GetString());
    }

    [Fact]
    public void The_json_summary_has_every_field_the_issue_names()
    {
        var (_, json, _) = Run(Fixture("seed-sample.csv"), SummaryFormat.Json);
        using var doc = JsonDocument.Parse(json);
        var port = doc.RootElement.GetProperty("ports")[0];
        foreach (var name in new[] { "address", "port", "connections", "established", "accepted", "aborted", "drops", "retries", "handshake_us", "queue_wait_us", "total_us", "slowest" })
            Assert.True(port.TryGetProperty(name, out _), name);
        foreach (var lat in new[] { "handshake_us", "queue_wait_us", "total_us" })
            foreach (var name in new[] { "count", "p50", "p90", "p99", "max" })
                Assert.True(port.GetProperty(lat).TryGetProperty(name, out _), $"{lat}.{name}");
        var slow = port.GetProperty("slowest")[0];
        foreach (var name in new[] { "source", "source_port", "attempts", "drops", "handshake_us", "queue_wait_us", "pid", "comm", "text" })
            Assert.True(slow.TryGetProperty(name, out _), $"slowest.{name}");
        foreach (var name in new[] { "rule", "severity", "text" })
            Assert.True(doc.RootElement.GetProperty("findings")[0].TryGetProperty(name, out _), $"findings.{name}");
    }

    [Fact]
    public void The_text_summary_has_the_table_the_slowest_and_the_diagnosis()
    {
        var (code, text, _) = Run(Fixture("seed-sample.csv"), SummaryFormat.Text);
        Assert.Equal(0, code);
        Assert.Contains("*:2000", text);
        Assert.Matches(@"handshake\s+1\s+7\.01 s\s+7\.01 s\s+7\.01 s\s+7\.01 s", text);
        Assert.Contains("172.16.170.1:50066 → :2000  SYN ×4", text);
        Assert.Contains("CRITICAL  backlog-too-small:", text);
    }

    [Fact]
    public void A_foreign_file_fails_with_the_bad_input_code_and_lenient_reports_what_came_before()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(path, [.. File.ReadAllLines(Fixture("seed-sample.csv")).Take(3), "185461492294103,2016 Aug 11 15:58:55,syn,0x01aa10ac"]);
            var e = Assert.Throws<TcpqException>(() => Run(path, SummaryFormat.Text));
            Assert.Equal(ExitCode.BadInput, e.Code);
            Assert.Equal($"{path} line 4: 4 fields, expected 9 (truncated?)", e.Message);

            var (code, json, stderr) = Run(path, SummaryFormat.Json, lenient: true);
            Assert.Equal(0, code);
            Assert.Contains("line 4", stderr);
            using var doc = JsonDocument.Parse(json);
            Assert.Equal(2, doc.RootElement.GetProperty("events").GetInt32());
            Assert.Equal(2, doc.RootElement.GetProperty("ports")[0].GetProperty("syns").GetInt32());
            Assert.Contains("line 4", doc.RootElement.GetProperty("input_error").GetString());
        }
        finally { File.Delete(path); }
    }
}
