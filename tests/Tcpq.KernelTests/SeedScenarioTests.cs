using System.Net;
using System.Net.Sockets;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>The seed's scenario on Linux: a listener with backlog 1, two clients fill its accept
/// queue, a third client's SYNs are dropped and retried until the application accepts.</summary>
public class SeedScenarioTests
{
    [Fact]
    public void A_full_accept_queue_drops_the_third_clients_SYNs_until_the_application_accepts()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 1);
        var before = ns.Nstat();

        using var trace = TcpqTrace.Start(["--format", "json", "-p", port.ToString()]);
        using var scenario = SeedScenario.Run(ns, listener, port);
        int thirdPort = scenario.ThirdPort;

        var rows = trace.WaitFor(r => r.Any(x => x.Action == "accept" && x.SourcePort == thirdPort), TimeSpan.FromSeconds(3));
        Assert.Equal(0, trace.Stop());
        var after = ns.Nstat();
        rows = rows.Where(r => r.NetNs == ns.Inode).ToList();
        string all = string.Join("\n", rows);

        // first two clients: queued without trouble; Q grows as each arrives
        var firstSyn = Assert.Single(rows, r => r.Action == "syn" && r.SourcePort == scenario.ClientPorts[0]);
        Assert.Equal((0, 0, 1, 1), (firstSyn.Q0, firstSyn.Q, firstSyn.QMax, firstSyn.Attempt));
        var firstAa = Assert.Single(rows, r => r.Action == "syn-aa" && r.SourcePort == firstSyn.SourcePort);
        Assert.Equal((1, 0, 1), (firstAa.Q0, firstAa.Q, firstAa.QMax)); // the seed's Q0 = 1 at the final ACK
        var secondSyn = Assert.Single(rows, r => r.Action == "syn" && r.SourcePort == scenario.ClientPorts[1]);
        Assert.Equal(1, secondSyn.Q);

        // the third: SYNs numbered 1..n, all but the last dropped because the accept queue was full
        var thirdRows = rows.Where(r => r.SourcePort == thirdPort).ToList();
        var syns = thirdRows.Where(r => r.Action == "syn").ToList();
        var drops = thirdRows.Where(r => r.Action == "syn-drop").ToList();
        Assert.True(syns.Count >= 3, all);
        Assert.Equal(Enumerable.Range(1, syns.Count), syns.Select(s => s.Attempt!.Value));
        Assert.Equal(syns.Count - 1, drops.Count);
        Assert.All(drops, d => Assert.Equal("accept-queue-full", d.Reason));
        Assert.All(drops, d => Assert.Equal((2, 1), (d.Q!.Value, d.QMax!.Value)));
        Assert.All(syns.Skip(1), s => Assert.InRange(s.WaitUs!.Value, 900_000, 10_000_000));

        // every drop tcpq saw is a drop the kernel counted, and the reverse
        long kernelDrops = after.GetValueOrDefault("TcpExtListenDrops") - before.GetValueOrDefault("TcpExtListenDrops");
        Assert.Equal(kernelDrops, rows.Count(r => r.Action is "syn-drop" or "ack-drop"));

        // established about 3 s after its first SYN; Wait us says the same as the timestamps
        var aa = Assert.Single(thirdRows, r => r.Action == "syn-aa");
        double waited = (aa.Ts - syns[0].Ts) / 1e9;
        Assert.InRange(waited, 2.4, 6.0);
        Assert.InRange(aa.WaitUs!.Value, (aa.Ts - syns[0].Ts) / 1000 - 1000, (aa.Ts - syns[0].Ts) / 1000 + 1000);
        Assert.Equal(syns.Count, aa.Attempt);

        // accepted by this very process
        var accept = Assert.Single(thirdRows, r => r.Action == "accept");
        Assert.Equal(Environment.ProcessId, accept.Pid);
        Assert.Equal(File.ReadAllText("/proc/self/comm").Trim(), accept.Comm);
        Assert.InRange(accept.WaitUs!.Value, 0, (accept.Ts - aa.Ts) / 1000 + 1000);
        Assert.True(accept.Ts > aa.Ts);
    }
}
