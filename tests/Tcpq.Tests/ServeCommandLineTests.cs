using System.Net;
using System.Net.Sockets;
using System.Text;
using OpenTelemetry.Exporter;
using Tcpq.Aggregates;
using Tcpq.Commands;
using Tcpq.Events;
using Tcpq.Serve;

namespace Tcpq.Tests;

/// <summary><c>tcpq serve</c>'s flags are checked before anything touches the kernel or opens a
/// socket; its scrape endpoint and OTLP push work over real loopback sockets.</summary>
public class ServeCommandLineTests
{
    private static (int Code, string Error) Run(params string[] args)
    {
        var console = new TestConsole();
        int code = TcpqProgram.Run(args, console.Console);
        var lines = console.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("tcpq: ", lines[0]);
        return (code, lines[0]);
    }

    [Theory]
    [InlineData("--listen", "nohost:80", "bad --listen")]
    [InlineData("--listen", "127.0.0.1:99999", "bad --listen")]
    [InlineData("--listen", "::1:9477", "bad --listen")]
    [InlineData("--listen", "1.2.3:80", "bad --listen")]
    [InlineData("--listen", "[::1]", "bad --listen")]
    [InlineData("--otlp-interval", "5", "--otlp-interval needs --otlp-endpoint")]
    [InlineData("--otlp-protocol", "grpc", "--otlp-protocol needs --otlp-endpoint")]
    [InlineData("--max-listeners", "0", "bad --max-listeners")]
    [InlineData("--ring-buffer-kb", "3", "bad --ring-buffer-kb")]
    [InlineData("--duration", "-1", "bad --duration")]
    [InlineData("--interval", "100ms", "--interval does not apply to --backend ebpf")]
    [InlineData("--backend", "kernel", "bad --backend")]
    [InlineData("--source", "maps", "bad --source")]
    [InlineData("--ring-buffer-kb", "64", "--ring-buffer-kb needs --source events")]
    [InlineData("--max-listeners", "64", "--max-listeners needs --source events")]
    [InlineData("--bogus", "1", "Unrecognized")]
    public void A_bad_flag_is_one_line_and_a_usage_error(string flag, string value, string message)
    {
        var (code, error) = Run("serve", flag, value);
        Assert.Equal((int)ExitCode.Usage, code);
        Assert.Contains(message, error);
    }

    [Fact]
    public void A_bad_otlp_endpoint_is_one_line_without_its_credentials_and_exit_13()
    {
        var (code, error) = Run("serve", "--otlp-endpoint", "ftp://admin:s3cret@x/");
        Assert.Equal((int)ExitCode.BadOtlp, code);
        Assert.Contains("bad --otlp-endpoint 'ftp://…@x/'", error);
        Assert.DoesNotContain("s3cret", error);
    }

    [Fact]
    public void A_bad_port_is_a_bad_port() => Assert.Equal((int)ExitCode.BadPort, Run("serve", "-p", "70000").Code);

    [Fact]
    public void The_otlp_interval_is_checked_with_the_endpoint()
    {
        var (code, error) = Run("serve", "--otlp-endpoint", "http://127.0.0.1:4318", "--otlp-interval", "0.5");
        Assert.Equal((int)ExitCode.Usage, code);
        Assert.Contains("1 to 3600 seconds", error);
    }

    [Fact]
    public void Diag_only_and_ebpf_only_flags_are_refused_on_the_other_backend()
    {
        Assert.Contains("--ring-buffer-kb does not apply to --backend diag", Run("serve", "-b", "diag", "--ring-buffer-kb", "8").Error);
        Assert.Contains("--verbose does not apply to --backend diag", Run("serve", "-b", "diag", "-v").Error);
        Assert.Contains("--source does not apply to --backend diag", Run("serve", "-b", "diag", "--source", "events").Error);
    }

    [Theory]
    [InlineData(null, "127.0.0.1:9477")]
    [InlineData("127.0.0.1:9000", "127.0.0.1:9000")]
    [InlineData("localhost:9000", "127.0.0.1:9000")]
    [InlineData(":9100", "127.0.0.1:9100")]
    [InlineData("9100", "127.0.0.1:9100")]
    [InlineData("0.0.0.0:9477", "0.0.0.0:9477")]
    [InlineData("[::1]:9477", "[::1]:9477")]
    [InlineData("[::]:0", "[::]:0")]
    public void Listen_addresses(string? text, string expected) =>
        Assert.Equal(expected, Tcpq.Serve.Web.MetricsEndpoint.Text(ServeOptions.ParseListen(text)));

    [Theory]
    [InlineData("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/metrics")]
    [InlineData("http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/metrics")]
    [InlineData("http://collector:4318/custom/path", "http://collector:4318/custom/path")]
    public void An_otlp_http_endpoint_gets_the_metrics_path(string given, string used) =>
        Assert.Equal(used, OtlpMetricsExport.EndpointFor(new Uri(given), OtlpExportProtocol.HttpProtobuf).ToString());

    private static AggregateSnapshot OneListener()
    {
        var e = TestEvents.Syn();
        var a = new ListenerAggregate(new ListenerKey(e.NetNs, e.DestAddress, e.DestPort)) { Accepts = 5 };
        a.QueueWait.RecordNs(3_000_000);
        a.QueueWait.RecordNs(3_000_000);
        return new AggregateSnapshot(DateTime.UtcNow, 1, [a], null, new AggregateCost(0, 0, null, 0));
    }

    [Fact]
    public async Task Otlp_pushes_protobuf_to_the_metrics_path_with_the_semantic_convention_attributes()
    {
        using var collector = new TcpListener(IPAddress.Loopback, 0);
        collector.Start();
        var endpoint = new Uri($"http://127.0.0.1:{((IPEndPoint)collector.LocalEndpoint).Port}");
        var snapshot = OneListener();
        var received = Task.Run(async () =>
        {
            using var c = await collector.AcceptSocketAsync();
            var buffer = new MemoryStream();
            var chunk = new byte[65536];
            while (true)
            {
                int n = await c.ReceiveAsync(chunk, SocketFlags.None);
                if (n == 0) break;
                buffer.Write(chunk, 0, n);
                var text = Encoding.Latin1.GetString(buffer.ToArray());
                int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                var m = System.Text.RegularExpressions.Regex.Match(text, "Content-Length: (\\d+)", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
                if (end >= 0 && m.Success && buffer.Length >= end + 4 + int.Parse(m.Groups[1].Value)) break;
            }
            await c.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), SocketFlags.None);
            return Encoding.Latin1.GetString(buffer.ToArray());
        });
        using (var otlp = new OtlpMetricsExport(OtlpMetricsExport.EndpointFor(endpoint, OtlpExportProtocol.HttpProtobuf), OtlpExportProtocol.HttpProtobuf,
            TimeSpan.FromHours(1), () => snapshot with { Apps = [new AppReading(812, "kestrel-web", 6, 42, 3, 2, 1, 7, 0.0125, 9)] }, DropReasons.Empty, "ebpf",
            dotnet: true))
            otlp.Flush(TimeSpan.FromSeconds(10));
        var request = await received.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.StartsWith("POST /v1/metrics HTTP/1.1", request);
        Assert.Contains("application/x-protobuf", request);
        foreach (var s in new[] { "tcpq.accepts", "tcpq.accept_queue.wait", "server.address", "10.0.0.5", "server.port", "network.type", "ipv4", "netns", "service.name",
                                  "tcpq.dotnet.thread_pool.thread.count", "tcpq.dotnet.thread_pool.queue.length", "tcpq.dotnet.thread_pool.injections", "cooperative-blocking",
                                  "tcpq.dotnet.gc.pause.time", "tcpq.dotnet.kestrel.rejected_connections", "process.pid", "process.executable.name", "kestrel-web" })
            Assert.Contains(s, request);
    }
}
