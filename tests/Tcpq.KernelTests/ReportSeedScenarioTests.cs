using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>The seed's scenario end to end: traced live with <c>--summary</c>, saved to a file,
/// and read back by <c>tcpq report</c>; both must name the slow third client and the backlog.</summary>
public class ReportSeedScenarioTests
{
    [Fact]
    public void Report_and_trace_summary_find_the_slow_client_and_the_small_backlog()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 1);
        string file = Path.Combine(Path.GetTempPath(), $"tcpq-report-{Guid.NewGuid():N}.json");
        try
        {
            using var trace = TcpqTrace.Start(["--format", "json", "-p", port.ToString(), "--summary", "--summary-format", "json"], outputPath: file);
            using var scenario = SeedScenario.Run(ns, listener, port);
            int thirdPort = scenario.ThirdPort;
            Thread.Sleep(300); // the tracer flushes every 50 ms

            Assert.Equal(0, trace.Stop());
            string liveSummary = trace.Stdout;

            string reportJson = Shell.RunWithCode(TcpqTrace.Binary, ["report", file, "--format", "json"], out int reportCode);
            Assert.True(reportCode == 0, reportJson);

            foreach (var (what, json) in new[] { ("report", reportJson), ("trace --summary", liveSummary) })
            {
                using var doc = JsonDocument.Parse(json);
                var ours = doc.RootElement.GetProperty("ports").EnumerateArray()
                    .Single(p => p.GetProperty("port").GetInt32() == port && p.GetProperty("netns").GetUInt32() == ns.Inode);
                Assert.Equal("127.0.0.1", ours.GetProperty("address").GetString());
                Assert.True(ours.GetProperty("accepted").GetInt32() == 3, $"{what}: {ours}\nrows:\n{File.ReadAllText(file)}");
                Assert.True(ours.GetProperty("drops").GetProperty("accept-queue-full").GetInt32() >= 2, $"{what}: {ours}");

                // the slowest is the third client: ~3 s, SYNs dropped, accepted by this process
                var slow = ours.GetProperty("slowest")[0];
                Assert.Equal(thirdPort, slow.GetProperty("source_port").GetInt32());
                Assert.True(slow.GetProperty("attempts").GetInt32() >= 3, $"{what}: {slow}");
                Assert.True(slow.GetProperty("attempts").GetInt32() - 1 == slow.GetProperty("drops").GetInt32(), $"{what}: {slow}\nrows:\n{File.ReadAllText(file)}");
                Assert.DoesNotContain(doc.RootElement.GetProperty("findings").EnumerateArray(), f => f.GetProperty("rule").GetString() == "syns-lost-upstream" && f.GetProperty("port").GetString() == $":{port}");
                Assert.InRange(slow.GetProperty("handshake_us").GetInt64() / 1e6, 2.4, 6.0);
                Assert.Equal(Environment.ProcessId, slow.GetProperty("pid").GetInt32());
                Assert.Equal(File.ReadAllText("/proc/self/comm").Trim(), slow.GetProperty("comm").GetString());
                Assert.Matches($@"^127\.0\.0\.1:{thirdPort} → :{port}  SYN ×\d \(\d dropped: accept-queue-full, Q 2/1\) · established after [2-5]\.\d\d s · accepted after", slow.GetProperty("text").GetString());

                var findings = doc.RootElement.GetProperty("findings").EnumerateArray()
                    .Where(f => f.GetProperty("port").GetString() == $":{port}").ToList();
                var backlog = Assert.Single(findings, f => f.GetProperty("rule").GetString() == "backlog-too-small");
                Assert.Equal("critical", backlog.GetProperty("severity").GetString());
                Assert.StartsWith($"the accept queue of :{port} (Qmax 1) was full", backlog.GetProperty("text").GetString());
            }
        }
        finally
        {
            File.Delete(file);
        }
    }
}
