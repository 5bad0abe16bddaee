using System.Text.Json;
using Tcpq.Commands;
using Tcpq.Output;

namespace Tcpq.Tests;

/// <summary><c>tcpq report</c> on values a real trace cannot hold: exit 9 naming the line, or,
/// with --lenient, the rows before it and the line said; and input files that are not there.</summary>
public class ReportRangeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tcpq-report-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private const string Header = "TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax,Dest IP,Attempt,Wait us,PID,Comm,Reason";
    private const string D = "2026-12-07T00:00:00.000000Z";

    private string Trace(params string[] rows)
    {
        var path = Path.Combine(_dir, "trace.csv");
        File.WriteAllLines(path, [Header, .. rows]);
        return path;
    }

    private static (int Code, string Stdout, string Stderr) Run(string path, bool lenient = false, SummaryFormat format = SummaryFormat.Text)
    {
        var console = new TestConsole();
        int code = new ReportCommand(new ReportOptions(path, format, lenient), console.Console).Run();
        return (code, console.Out, console.Error);
    }

    // a client's SYN at 10 s, its handshake 62 µs later, accepted at 12 s
    private static readonly string[] Healthy =
    [
        $"10000000000,{D},syn,127.0.0.1,40716,2000,0,0,1,127.0.0.1,1,,,,",
        $"10000062000,{D},syn-aa,127.0.0.1,40716,2000,1,0,1,127.0.0.1,1,62,,,",
        $"12000062000,{D},accept,127.0.0.1,40716,2000,,,,127.0.0.1,1,2000000,14034,python3,",
    ];

    [Fact]
    public void A_real_trace_passes() => Assert.Equal(0, Run(Trace(Healthy)).Code);

    [Theory]
    [InlineData("18446744073709551615", "line 3: Wait us 18446744073709551615 is out of range (no wait lasts")] // the issue's 2^64-1: "established after 18446744074 s"
    [InlineData("5000000", "line 3: Wait us 5000000 is out of range: longer than the trace up to this row (0 s)")]
    [InlineData("-62", "line 3: bad Wait us '-62'")]
    public void A_wait_out_of_range_is_a_bad_line(string wait, string message)
    {
        var path = Trace(Healthy[0], Healthy[1].Replace(",1,62,", $",1,{wait},"), Healthy[2]);
        var e = Assert.Throws<TcpqException>(() => Run(path));
        Assert.Equal(ExitCode.BadInput, e.Code);
        Assert.Contains($"{path} {message}", e.Message);
    }

    [Fact]
    public void A_timestamp_far_out_of_order_is_a_bad_line()
    {
        var path = Trace([.. Healthy, $"100000000000,{D},syn,127.0.0.1,40718,2000,0,0,1,127.0.0.1,1,,,,", $"1000000000,{D},syn,127.0.0.1,40720,2000,0,0,1,127.0.0.1,1,,,,"]);
        var e = Assert.Throws<TcpqException>(() => Run(path));
        Assert.Equal(ExitCode.BadInput, e.Code);
        Assert.Equal($"{path} line 6: TS 1000000000 is 99 s before a row above it: out of order, not one trace", e.Message);
    }

    [Fact]
    public void Lenient_reports_the_rows_before_the_value_and_says_where_it_stopped()
    {
        var path = Trace(Healthy[0], Healthy[1], Healthy[2].Replace(",2000000,", ",18446744073709551615,"));
        var (code, json, stderr) = Run(path, lenient: true, SummaryFormat.Json);
        Assert.Equal(0, code);
        Assert.Contains("line 4: Wait us 18446744073709551615 is out of range", stderr);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(2, doc.RootElement.GetProperty("events").GetInt32());
        Assert.Contains("out of range", doc.RootElement.GetProperty("input_error").GetString());
        var (_, text, _) = Run(path, lenient: true);
        Assert.Contains("(reading stopped early:", text);
        Assert.DoesNotContain("18446744074 s", text);
    }

    [Fact]
    public void The_json_format_is_checked_the_same_way()
    {
        var path = Path.Combine(_dir, "trace.json");
        File.WriteAllLines(path,
        [
            """{"ts":10000000000,"date":"2026-12-07T00:00:00.000000Z","action":"syn","source_ip":"127.0.0.1","source_port":40716,"dest_port":2000,"q0":0,"q":0,"qmax":1,"dest_ip":"127.0.0.1","attempt":1,"wait_us":null,"pid":null,"comm":null,"reason":null,"netns":1}""",
            """{"ts":10000062000,"date":"2026-12-07T00:00:00.000000Z","action":"syn-aa","source_ip":"127.0.0.1","source_port":40716,"dest_port":2000,"q0":1,"q":0,"qmax":1,"dest_ip":"127.0.0.1","attempt":1,"wait_us":18446744073709551615,"pid":null,"comm":null,"reason":null,"netns":1}""",
        ]);
        var e = Assert.Throws<TcpqException>(() => Run(path));
        Assert.Equal(ExitCode.BadInput, e.Code);
        Assert.Contains("line 2: wait_us 18446744073709551615 is out of range", e.Message);
    }

    [Fact]
    public void A_missing_or_unreadable_input_is_its_own_message_and_code_not_corrupt()
    {
        var missing = Assert.Throws<TcpqException>(() => Run(Path.Combine(_dir, "nope.csv")));
        Assert.Equal(ExitCode.NoInput, missing.Code);
        Assert.Equal($"cannot read {Path.Combine(_dir, "nope.csv")}: no such file or directory", missing.Message);
        var directory = Assert.Throws<TcpqException>(() => Run(_dir));
        Assert.Equal(ExitCode.NoInput, directory.Code);
        Assert.Equal($"cannot read {_dir}: it is a directory", directory.Message);
    }

    [Fact]
    public void An_output_that_is_a_directory_says_so()
    {
        var e = Assert.Throws<TcpqException>(() => RowOutput.Open(_dir, new TestConsole().Console));
        Assert.Equal(ExitCode.Usage, e.Code);
        Assert.Equal($"cannot write {_dir}: it is a directory", e.Message);
    }
}
