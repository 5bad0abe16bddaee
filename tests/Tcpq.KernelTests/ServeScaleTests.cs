using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Tcpq.Aggregates;
using Tcpq.Bpf;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>
/// <c>tcpq serve</c> with more listeners alive at once than it keeps one by one (counting mode's
/// slot table holds 1023, the event aggregator 1024 by default): every listener exported one by
/// one is exact, <c>server_address="other"</c> holds the rest, and no gauge says a limit of 0.
/// 1100 listeners in the test's namespace, each given a connection it accepts, twice over.
/// </summary>
public partial class ServeScaleTests
{
    private const int Listeners = 1100;
    private const int Backlog = 8;
    private const int FirstPort = 30000;

    [GeneratedRegex(@"^(tcpq_\w+)\{([^}]*)\} (\S+)$", RegexOptions.Multiline)]
    private static partial Regex SampleLine();

    /// <summary>Each of this namespace's ports that has a series of <paramref name="name"/>, with its value.</summary>
    private static Dictionary<int, double> ByPort(string metrics, string name, uint netns)
    {
        var values = new Dictionary<int, double>();
        foreach (Match m in SampleLine().Matches(metrics))
        {
            if (m.Groups[1].Value != name || !m.Groups[2].Value.Contains($"netns=\"{netns}\"", StringComparison.Ordinal)) continue;
            int port = int.Parse(Regex.Match(m.Groups[2].Value, "server_port=\"(\\d+)\"").Groups[1].Value);
            values[port] = double.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        return values;
    }

    private static double Other(string metrics, string name) => TcpqServe.Sum(metrics, name, "server_address=\"other\"");

    /// <summary>One connection to each listener, accepted and closed: one SYN, one handshake and
    /// one accept each.</summary>
    private static void ConnectToEach(NetNamespace ns, List<Socket> listeners) => ns.Run(() =>
    {
        for (int i = 0; i < listeners.Count; i++)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(new IPEndPoint(IPAddress.Loopback, FirstPort + i));
            using var accepted = listeners[i].Accept();
        }
        return 0;
    });

    /// <summary>Scrapes until this namespace's series and "other" together hold <paramref name="accepts"/>
    /// accepts (the reading is cached for a second), or 20 s have passed.</summary>
    private static string ScrapeUntil(TcpqServe serve, uint netns, double accepts)
    {
        string metrics = "";
        for (var until = DateTime.UtcNow + TimeSpan.FromSeconds(20); DateTime.UtcNow < until; Thread.Sleep(500))
        {
            metrics = serve.Metrics();
            if (ByPort(metrics, "tcpq_accepts_total", netns).Values.Sum() + Other(metrics, "tcpq_accepts_total") >= accepts) break;
        }
        return metrics;
    }

    [Theory]
    [InlineData("kernel", CountingPrograms.Slots - 1)]       // slot 0 is "other"
    [InlineData("events", EventAggregator.DefaultMaxListeners)]
    public void Past_the_bound_each_listener_exported_is_exact_and_other_holds_the_rest(string source, int bound)
    {
        using var ns = NetNamespace.Create();
        var listeners = ns.Run(() => Enumerable.Range(0, Listeners).Select(i =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Loopback, FirstPort + i));
            s.Listen(Backlog);
            return s;
        }).ToList());
        try
        {
            using var serve = TcpqServe.Start("--source", source);
            var before = ns.Nstat();
            ConnectToEach(ns, listeners);
            long opened = ns.Nstat().GetValueOrDefault("TcpPassiveOpens") - before.GetValueOrDefault("TcpPassiveOpens");
            Assert.Equal(Listeners, opened);

            var first = ScrapeUntil(serve, ns.Inode, Listeners);
            var accepts = ByPort(first, "tcpq_accepts_total", ns.Inode);
            int merged = Listeners - accepts.Count;
            // the bound is the machine's: a listener of another namespace that had traffic meanwhile takes a place too
            Assert.InRange(merged, Listeners - bound, Listeners);
            Assert.All(accepts, a => Assert.True(a.Value == 1, $"port {a.Key}: {a.Value} accepts, 1 made"));
            Assert.All(ByPort(first, "tcpq_handshakes_total", ns.Inode), h => Assert.Equal(1, h.Value));
            Assert.All(ByPort(first, "tcpq_syns_total", ns.Inode), s => Assert.Equal(1, s.Value));
            Assert.True(Other(first, "tcpq_accepts_total") >= merged, $"other: {Other(first, "tcpq_accepts_total")} accepts, {merged} listeners merged");
            Assert.True(TcpqServe.Sum(first, "tcpq_listeners_overflowed_total") >= merged);

            // the gauges of each listener exported are its own, read now; "other" has none
            var limits = ByPort(first, "tcpq_accept_queue_limit", ns.Inode);
            Assert.Equal(accepts.Keys.Order(), limits.Keys.Order());
            Assert.All(limits, l => Assert.Equal(Backlog, l.Value));
            Assert.All(ByPort(first, "tcpq_accept_queue_length", ns.Inode), q => Assert.Equal(0, q.Value));
            Assert.DoesNotMatch(new Regex("^tcpq_accept_queue_limit\\{[^}]*\\} 0$", RegexOptions.Multiline), first);
            Assert.DoesNotContain("tcpq_accept_queue_limit{server_address=\"other\"", first);

            // a second connection each: the same listeners one by one, each exact; "other" grows by
            // exactly the merged ones (nstat: these 1100 handshakes are all this namespace's)
            double otherBefore = Other(first, "tcpq_accepts_total");
            before = ns.Nstat();
            ConnectToEach(ns, listeners);
            opened = ns.Nstat().GetValueOrDefault("TcpPassiveOpens") - before.GetValueOrDefault("TcpPassiveOpens");
            Assert.Equal(Listeners, opened);
            var second = ScrapeUntil(serve, ns.Inode, 2 * Listeners);
            var again = ByPort(second, "tcpq_accepts_total", ns.Inode);
            Assert.Equal(accepts.Keys.Order(), again.Keys.Order());
            Assert.All(again, a => Assert.True(a.Value == 2, $"port {a.Key}: {a.Value} accepts, 2 made"));
            Assert.Equal(merged, Other(second, "tcpq_accepts_total") - otherBefore);

            Assert.Equal(0, serve.Stop());
        }
        finally
        {
            foreach (var s in listeners) s.Dispose();
        }
    }
}
