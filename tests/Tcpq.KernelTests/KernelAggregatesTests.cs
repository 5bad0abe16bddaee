using Tcpq.Aggregates;
using System.Net;
using System.Net.Sockets;
using Tcpq.Bpf;
using Tcpq.Events;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>The kernel's per-listener aggregates (serve, top): the real programs loaded in counting
/// mode in this process, a real burst against a small backlog in a namespace, and every counter
/// checked against the namespace's own nstat and the accepts this test made.</summary>
public class KernelAggregatesTests
{
    [Fact]
    public void A_burst_against_a_full_backlog_counts_exactly_what_the_kernel_counted()
    {
        Requirements.Check();
        using var ns = NetNamespace.Create();
        ns.Exec("sysctl", "-q", "-w", "net.ipv4.tcp_syncookies=0");
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 2);
        var before = ns.Nstat();
        using var aggregates = KernelAggregates.Start([(ushort)port], DropReasons.Empty);

        // 12 clients at once: 3 fit the accept queue, the others' SYNs are dropped and retried
        var clients = Enumerable.Range(0, 12).Select(_ => ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port))).ToList();
        Thread.Sleep(1500); // one round of SYN retries (1 s)
        var accepted = new List<Socket>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(8);
        while (accepted.Count < clients.Count && DateTime.UtcNow < deadline)
        {
            try { accepted.Add(listener.AcceptWithin(TimeSpan.FromMilliseconds(500))); }
            catch (TimeoutException) { }
        }
        Thread.Sleep(100);
        var snapshot = aggregates.Read();
        var after = ns.Nstat();
        foreach (var s in accepted.Concat(clients)) s.Dispose();

        long Delta(string name) => after.GetValueOrDefault(name) - before.GetValueOrDefault(name);
        var a = Assert.Single(snapshot.Listeners, l => l.Key.Port == port && l.Key.NetNs == ns.Inode);
        Assert.Equal(clients.Count, accepted.Count);
        Assert.Equal(accepted.Count, a.Accepts);
        Assert.Equal(Delta("TcpPassiveOpens"), a.Handshakes + a.Aborts.GetValueOrDefault(DropReasons.ChildDiscarded));
        Assert.True(Delta("TcpExtListenDrops") >= 1, "the burst should overflow the accept queue");
        Assert.Equal(Delta("TcpExtListenDrops"), a.AllDrops);
        Assert.True(a.SynRetries >= 1, $"{a.SynRetries} retries");
        Assert.Equal(a.Syns, clients.Count + a.SynRetries);
        Assert.Equal((2u, 3u), (a.QMax, a.PeakQ));
        Assert.Equal(a.Handshakes, a.Handshake.Count);
        Assert.Equal(a.Accepts, a.QueueWait.Count);
        Assert.True(a.SynToAccept.PercentileUpperBoundUs(100) >= 1_000_000, "the retried clients waited more than a second");
        Assert.Equal(0ul, snapshot.Cost.LostEvents);
        Assert.Equal(0, snapshot.Cost.ListenersOverflowed);
    }
}
