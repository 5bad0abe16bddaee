using System.Net;
using System.Net.Sockets;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary><c>tcpq trace --backend diag</c> (no eBPF) on the seed's scenario: a backlog-1
/// listener, two clients queued, a third dropped and retried until the application accepts.</summary>
public class ListenersDiagTraceTests
{
    [Fact]
    public void The_sampled_tracer_reports_the_queued_connections_the_drops_and_the_accepts()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 1);
        var before = ns.Nstat();

        using var trace = TcpqTrace.Start(["--backend", "diag", "--format", "json", "-p", port.ToString()], prefix: ["ip", "netns", "exec", ns.Name]);
        var first = trace.Stderr[0];
        Assert.Contains("sampling sock_diag every 100 ms", first);
        Assert.Contains("sampled, not exact", first);

        using var scenario = SeedScenario.Run(ns, listener, port);
        int[] clientPorts = scenario.ClientPorts;

        var rows = trace.WaitFor(r => r.Count(x => x.Action == "accept") >= 3, TimeSpan.FromSeconds(3));
        Assert.Equal(0, trace.Stop());
        rows = trace.Rows();
        var after = ns.Nstat();
        string all = string.Join("\n", rows);

        Assert.All(rows, r => Assert.Equal(ns.Inode, r.NetNs));
        Assert.All(rows, r => Assert.Equal(port, r.DestPort));

        // each client seen once in the accept queue, and once leaving it, accepted by this process
        foreach (int p in clientPorts)
        {
            var aa = One(rows, r => r.Action == "syn-aa" && r.SourcePort == p, all);
            Assert.Equal(1, aa.QMax);
            var accept = One(rows, r => r.Action == "accept" && r.SourcePort == p, all);
            Assert.Equal(Environment.ProcessId, accept.Pid);
            Assert.Equal(File.ReadAllText("/proc/self/comm").Trim(), accept.Comm);
            Assert.True(accept.Ts >= aa.Ts, all); // the same sample when it came and went between two
        }

        // the listener's drop counter, sampled: the counts add up to what the kernel counted
        long kernelDrops = after.GetValueOrDefault("TcpExtListenDrops") - before.GetValueOrDefault("TcpExtListenDrops");
        var drops = rows.Where(r => r.Action == "syn-drop").ToList();
        Assert.True(kernelDrops >= 2, $"the scenario should drop the third client's SYN at least twice, the kernel counted {kernelDrops}");
        Assert.Equal(kernelDrops, drops.Sum(d => d.Attempt!.Value));
        Assert.All(drops, d => Assert.Equal(("accept-queue-full", 2, 1), (d.Reason, d.Q!.Value, d.QMax!.Value)));

        // the third client got in only after the drops, about 3 s after its first SYN
        var third = One(rows, r => r.Action == "syn-aa" && r.SourcePort == clientPorts[2], all);
        Assert.True(drops.All(d => d.Ts < third.Ts), all);
        var firstAa = rows.First(r => r.Action == "syn-aa");
        Assert.InRange((third.Ts - firstAa.Ts) / 1e9, 2.4, 6.0);
    }

    [Fact]
    public void With_summary_the_sampled_tracer_prints_the_summary_of_what_it_saw()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        using var trace = TcpqTrace.Start(["--backend", "diag", "--format", "json", "--summary", "--summary-format", "json", "-p", port.ToString()],
            prefix: ["ip", "netns", "exec", ns.Name]);
        for (int i = 0; i < 3; i++)
        {
            using var client = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
            Thread.Sleep(250); // queued across a sample
            listener.AcceptWithin(TimeSpan.FromSeconds(5)).Dispose();
            Thread.Sleep(250);
        }
        trace.WaitFor(r => r.Count(x => x.Action == "accept") >= 3, TimeSpan.FromSeconds(3));
        Assert.Equal(0, trace.Stop());

        // rows went to -o FILE, so the summary is on standard output
        using var doc = System.Text.Json.JsonDocument.Parse(trace.Stdout);
        var summaryPort = Assert.Single(doc.RootElement.GetProperty("ports").EnumerateArray());
        Assert.Equal(port, summaryPort.GetProperty("port").GetInt32());
        Assert.Equal(3, summaryPort.GetProperty("accepted").GetInt32());
    }

    private static TraceRow One(List<TraceRow> rows, Func<TraceRow, bool> match, string all)
    {
        var found = rows.Where(match).ToList();
        Assert.True(found.Count == 1, $"{found.Count} matching rows in:\n{all}");
        return found[0];
    }
}
