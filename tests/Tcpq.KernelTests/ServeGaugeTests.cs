using System.Net;
using System.Net.Sockets;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>
/// serve's queue gauges say now with the sources that count events (<c>--source events</c>,
/// <c>--backend diag</c>), as counting mode's do: read with sock_diag at the scrape, in the
/// listener's namespace. Two connections queued show 2; accepted, 0 (an event stream last saw
/// them queued); a closed listener's gauges leave while its counters stay.
/// </summary>
public class ServeGaugeTests
{
    private static double Gauge(string metrics, string name, int port, uint netns) =>
        TcpqServe.Sum(metrics, name, $"server_port=\"{port}\"", $"netns=\"{netns}\"");

    private static bool Has(string metrics, string name, int port) =>
        metrics.Split('\n').Any(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains($"server_port=\"{port}\"", StringComparison.Ordinal));

    /// <summary>Scrapes until <paramref name="done"/> holds (a reading is cached for a second), or
    /// 15 s; from inside <paramref name="ns"/> when tcpq serves there.</summary>
    private static string ScrapeUntil(TcpqServe serve, NetNamespace? ns, Func<string, bool> done)
    {
        string metrics = "";
        for (var until = DateTime.UtcNow + TimeSpan.FromSeconds(15); DateTime.UtcNow < until; Thread.Sleep(300))
            if (done(metrics = ns is null ? serve.Metrics() : ns.Exec("curl", "-s", "-m", "10", $"http://{serve.Address}/metrics"))) break;
        return metrics;
    }

    [Theory]
    [InlineData("events")] // tcpq on the host: the listener's namespace is entered (setns) at each read
    [InlineData("diag")]   // tcpq in the listener's namespace: sock_diag there, no eBPF
    public void Queue_gauges_are_read_at_the_scrape_and_leave_with_their_listener(string source)
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        var listener = ns.Listen(IPAddress.Loopback, port, backlog: 4);
        using var serve = source == "diag"
            ? TcpqServe.Start(ns, "-p", port.ToString(), "--backend", "diag", "--interval", "100ms")
            : TcpqServe.Start("-p", port.ToString(), "--source", "events");
        var inside = source == "diag" ? ns : null;
        var clients = new List<Socket>();
        try
        {
            for (int i = 0; i < 2; i++) clients.Add(ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port)));
            var queued = ScrapeUntil(serve, inside, m => Gauge(m, "tcpq_handshakes_total", port, ns.Inode) == 2 && Gauge(m, "tcpq_accept_queue_length", port, ns.Inode) == 2);
            Assert.Equal(2, Gauge(queued, "tcpq_accept_queue_length", port, ns.Inode));
            Assert.Equal(4, Gauge(queued, "tcpq_accept_queue_limit", port, ns.Inode));
            Assert.Equal(0, Gauge(queued, "tcpq_syn_queue_length", port, ns.Inode)); // both handshakes completed
            Assert.True(Has(queued, "tcpq_syn_queue_length", port));

            var accepted = ns.Run(() => { listener.Blocking = true; return new[] { listener.Accept(), listener.Accept() }; });
            foreach (var a in accepted) a.Dispose();
            var empty = ScrapeUntil(serve, inside, m => Gauge(m, "tcpq_accept_queue_length", port, ns.Inode) == 0 && Has(m, "tcpq_accept_queue_length", port));
            Assert.True(Has(empty, "tcpq_accept_queue_length", port), empty);
            Assert.Equal(0, Gauge(empty, "tcpq_accept_queue_length", port, ns.Inode));
            Assert.Equal(2, Gauge(empty, "tcpq_accept_queue_peak_length", port, ns.Inode));

            listener.Dispose();
            var closed = ScrapeUntil(serve, inside, m => !Has(m, "tcpq_accept_queue_limit", port));
            foreach (var gauge in new[] { "tcpq_accept_queue_length", "tcpq_accept_queue_limit", "tcpq_syn_queue_length" })
                Assert.False(Has(closed, gauge, port), $"{gauge} of a closed listener is still exported");
            Assert.Equal(2, Gauge(closed, "tcpq_handshakes_total", port, ns.Inode)); // what it counted stays
            Assert.Equal(0, serve.Stop());
        }
        finally
        {
            listener.Dispose();
            foreach (var c in clients) c.Dispose();
        }
    }

    /// <summary>Counting mode: a listener that closes is read a last time, its counters final, its
    /// queue gauges left out (nothing can be read of a closed socket: a limit of 0 was exported
    /// here), then its series leave.</summary>
    [Fact]
    public void Counting_mode_shows_a_closed_listeners_final_counters_without_its_gauges()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        var listener = ns.Listen(IPAddress.Loopback, port, backlog: 4);
        using var serve = TcpqServe.Start("-p", port.ToString());
        using (var client = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port)))
        {
            var queued = ScrapeUntil(serve, null, m => Gauge(m, "tcpq_handshakes_total", port, ns.Inode) == 1 && Gauge(m, "tcpq_accept_queue_length", port, ns.Inode) == 1);
            Assert.Equal(4, Gauge(queued, "tcpq_accept_queue_limit", port, ns.Inode));
            listener.Dispose();
            var scrapes = new List<string>();
            ScrapeUntil(serve, null, m => { scrapes.Add(m); return m.Length > 0 && !Has(m, "tcpq_handshakes_total", port); });
            Assert.False(Has(scrapes[^1], "tcpq_handshakes_total", port), "the closed listener's series did not leave");
            foreach (var m in scrapes.Where(m => Has(m, "tcpq_handshakes_total", port)))
            {
                Assert.Equal(1, Gauge(m, "tcpq_handshakes_total", port, ns.Inode));
                if (Has(m, "tcpq_accept_queue_limit", port)) Assert.Equal(4, Gauge(m, "tcpq_accept_queue_limit", port, ns.Inode)); // a reading from before the close
            }
        }
        Assert.Equal(0, serve.Stop());
    }

    /// <summary>Listeners that come and go across namespaces (issue 23): a deleted namespace's
    /// series leave /metrics, and a new namespace's listener on the same port starts from its own
    /// counts, whatever inode the kernel gives it (inodes are reused).</summary>
    [Fact]
    public void A_deleted_namespaces_series_leave_and_a_new_namespace_starts_from_zero()
    {
        int port = Ports.Next();
        using var serve = TcpqServe.Start("-p", port.ToString());
        var gone = new List<uint>();
        for (int round = 0; round < 3; round++)
        {
            uint inode;
            using (var ns = NetNamespace.Create())
            {
                inode = ns.Inode;
                using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 4);
                for (int i = 0; i <= round; i++)
                    using (var client = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port)))
                    using (listener.AcceptWithin(TimeSpan.FromSeconds(5))) { }
                // this namespace's own connections, none of an earlier one's
                var seen = ScrapeUntil(serve, null, m => Gauge(m, "tcpq_handshakes_total", port, inode) == round + 1);
                Assert.Equal(round + 1, Gauge(seen, "tcpq_handshakes_total", port, inode));
                Assert.Equal(round + 1, Gauge(seen, "tcpq_accepts_total", port, inode));
            }
            gone.Add(inode);
            var after = ScrapeUntil(serve, null, m => m.Length > 0 && !m.Contains($"netns=\"{inode}\"", StringComparison.Ordinal));
            Assert.DoesNotContain($"netns=\"{inode}\"", after);
        }
        Assert.Equal(0, serve.Stop());
    }
}
