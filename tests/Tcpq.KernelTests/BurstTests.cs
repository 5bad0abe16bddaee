using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>Under load, every event reaches the output and joins into the right connection: a burst
/// of connections from several threads (bounded in count and time), each counted against the
/// kernel's own counters.</summary>
public class BurstTests
{
    private const int Threads = 4, PerThread = 4000;

    [Fact]
    public void A_burst_of_connections_gives_a_row_for_every_event_the_kernel_counted_and_loses_none()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 4096);
        // 1,000 client ports for 16,000 connections: a client reuses its port while the connection it
        // reset on that port still waits in the accept queue, so two connections share a 4-tuple
        ns.Exec("sysctl", "-qw", "net.ipv4.ip_local_port_range=40000 40999");
        var before = ns.Nstat();

        // 64 MiB of ring: the whole burst (~7 MB of records) fits even if the reader, one process
        // among this test's five busy threads on a loaded machine, gets no CPU for a while; this
        // test is about joins and counts (bench/run measures whether the reader keeps up)
        using var trace = TcpqTrace.Start(["-p", port.ToString(), "--format", "json", "--summary", "--summary-format", "json", "--ring-buffer-kb", "65536"]);
        var (connected, accepted) = ns.Run(() => Burst(listener, new IPEndPoint(IPAddress.Loopback, port)));
        Thread.Sleep(300); // the tracer reads at least every 50 ms
        Assert.Equal(0, trace.Stop(Posix.SIGTERM));
        var after = ns.Nstat();

        long Delta(string counter) => after.GetValueOrDefault(counter) - before.GetValueOrDefault(counter);
        var rows = trace.Rows();
        var count = rows.GroupBy(r => r.Action).ToDictionary(g => g.Key, g => g.Count());
        int Count(string action) => count.GetValueOrDefault(action);
        string what = $"connected {connected}, accepted {accepted}, rows {string.Join(" ", count.Select(kv => $"{kv.Key}={kv.Value}"))}, " +
                      $"TcpPassiveOpens +{Delta("TcpPassiveOpens")}, TcpExtListenDrops +{Delta("TcpExtListenDrops")}";

        Assert.True(connected == Threads * PerThread, $"the burst did not make all its connections: {what}");
        Assert.Contains(trace.Stderr, l => l == $"tcpq: {rows.Count} events, none lost");
        Assert.All(rows, r => Assert.Equal((ns.Inode, port), (r.NetNs, r.DestPort)));
        // every handshake the kernel completed, every accept() the application made, every drop
        Assert.True(Count("syn-aa") == Delta("TcpPassiveOpens"), what);
        Assert.True(Count("accept") == accepted, what);
        Assert.True(Count("syn-drop") + Count("ack-drop") == Delta("TcpExtListenDrops"), what);
        Assert.True(Count("syn") >= Count("syn-aa") + Count("syn-drop"), what);
        // each accept row follows its connection's syn-aa, and says how long it waited and after how
        // many SYNs, also when its client already made a new connection from the same port
        var established = rows.Where(r => r.Action == "syn-aa").ToLookup(r => r.SourcePort);
        Assert.All(rows.Where(r => r.Action == "accept"), a =>
        {
            Assert.Contains(established[a.SourcePort], aa => aa.Ts <= a.Ts);
            Assert.NotNull(a.WaitUs);
            Assert.True(a.Attempt >= 1, a.ToString());
        });
        // the summary joins the rows into as many connections, each accepted once, also where a
        // client's new connection shared the 4-tuple of its reset one still in the queue
        using var summary = System.Text.Json.JsonDocument.Parse(trace.Stdout);
        var ours = Assert.Single(summary.RootElement.GetProperty("ports").EnumerateArray());
        Assert.True(ours.GetProperty("connections").GetInt64() == connected && ours.GetProperty("accepted").GetInt64() == accepted,
            $"{what}; summary: {ours}");
        // and so does each abort (a client's reset while its connection was queued)
        Assert.All(rows.Where(r => r.Action == "abort"), a => Assert.True(a.WaitUs != null && a.Attempt >= 1, a.ToString()));
    }

    /// <summary>Threads started here are in the namespace with this one. Clients close with RST
    /// (no TIME_WAIT); at most half the backlog waits unaccepted, so the queue never overflows.</summary>
    private static (int Connected, int Accepted) Burst(Socket listener, IPEndPoint to)
    {
        int connected = 0, accepted = 0, clientsDone = 0;
        var deadline = Stopwatch.StartNew();
        var limit = TimeSpan.FromSeconds(30);
        var server = new Thread(() =>
        {
            while (deadline.Elapsed < limit &&
                   !(Volatile.Read(ref clientsDone) == 1 && Volatile.Read(ref accepted) == Volatile.Read(ref connected)))
            {
                if (!listener.Poll(TimeSpan.FromMilliseconds(200), SelectMode.SelectRead)) continue;
                using var c = listener.Accept();
                Interlocked.Increment(ref accepted);
            }
        });
        Exception? failed = null;
        var clients = Enumerable.Range(0, Threads).Select(_ => new Thread(() =>
        {
            try
            {
                for (int i = 0; i < PerThread && deadline.Elapsed < limit; i++)
                {
                    while (Volatile.Read(ref connected) - Volatile.Read(ref accepted) >= 2048 && deadline.Elapsed < limit) Thread.Yield();
                    using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    s.Connect(to); // on loopback with room in the queue, a connect does not fail
                    Interlocked.Increment(ref connected);
                    s.LingerState = new LingerOption(true, 0);
                }
            }
            catch (Exception e) { Interlocked.CompareExchange(ref failed, e, null); }
        })).ToList();
        server.Start();
        clients.ForEach(c => c.Start());
        clients.ForEach(c => c.Join());
        Volatile.Write(ref clientsDone, 1);
        server.Join();
        if (failed != null) throw failed;
        return (connected, accepted);
    }
}
