using System.Text.RegularExpressions;
using Tcpq.KernelTests.Fixtures;
using Xunit.Abstractions;

namespace Tcpq.KernelTests;

/// <summary>
/// Issue #13, into the application: first-read, first-write and close rows from real servers —
/// blocking Python servers that delay their read or their write, one on epoll with non-blocking
/// sockets, one on io_uring, nginx under ab — cross-checked against what each server recorded
/// (bytes, order, who closed first). The application's actions are off by default: -e all.
/// </summary>
public class ApplicationTests(ITestOutputHelper output)
{
    private const int Request = 100;
    private const long Answer = Request * 2 + 7;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    /// <summary>Per connection (by client port): its accept, first-read, first-write and close rows.</summary>
    private static Dictionary<int, Dictionary<string, TraceRow>> ByConnection(List<TraceRow> rows) =>
        rows.Where(r => r.Action is "accept" or "first-read" or "first-write" or "close")
            .GroupBy(r => r.SourcePort)
            .ToDictionary(g => g.Key, g =>
            {
                foreach (var kind in g.GroupBy(r => r.Action))
                    Assert.True(kind.Count() == 1, $"connection :{g.Key} has {kind.Count()} {kind.Key} rows: {string.Join(" | ", g)}");
                return g.ToDictionary(r => r.Action);
            });

    private List<TraceRow> Settle(TcpqTrace trace, NetNamespace ns, int connections) =>
        trace.WaitFor(r => r.In(ns).Count(x => x.Action == "close") >= connections, Wait).In(ns);

    /// <summary>Every connection the server recorded has its four rows, in order, with the server's bytes and closer.</summary>
    private Dictionary<int, Dictionary<string, TraceRow>> CrossCheck(List<TraceRow> rows, List<AppServer.Record> records, int connections)
    {
        foreach (var r in rows.Where(r => r.Action != "syn" && r.Action != "syn-aa")) output.WriteLine(r.ToString());
        Assert.Equal(connections, records.Count);
        var conns = ByConnection(rows);
        foreach (var rec in records)
        {
            Assert.True(conns.TryGetValue(rec.Port, out var c), $"no rows for :{rec.Port}");
            Assert.Equal(["accept", "first-read", "first-write", "close"], c.Values.OrderBy(r => r.Ts).Select(r => r.Action));
            Assert.Equal(rec.BytesIn, c["first-read"].BytesIn);          // one request, read in one piece
            Assert.Equal(0, c["first-read"].BytesOut);                   // nothing written before it
            Assert.Equal(rec.BytesIn, c["first-write"].BytesIn);         // read before the answer
            Assert.Equal(rec.BytesOut, c["first-write"].BytesOut);       // the answer, written in one piece
            Assert.Equal((rec.BytesIn, rec.BytesOut), (c["close"].BytesIn, c["close"].BytesOut));
            Assert.Equal((rec.Closer, false), (c["close"].ClosedBy, c["close"].Reset));
            // Wait us: first-read since accept, first-write since the first read, close since accept
            Assert.InRange(c["first-read"].WaitUs!.Value, (c["first-read"].Ts - c["accept"].Ts) / 1000 - 1, (c["first-read"].Ts - c["accept"].Ts) / 1000 + 1);
            Assert.InRange(c["first-write"].WaitUs!.Value, (c["first-write"].Ts - c["first-read"].Ts) / 1000 - 1, (c["first-write"].Ts - c["first-read"].Ts) / 1000 + 1);
            Assert.InRange(c["close"].WaitUs!.Value, (c["close"].Ts - c["accept"].Ts) / 1000 - 1, (c["close"].Ts - c["accept"].Ts) / 1000 + 1);
            Assert.NotNull(c["first-read"].DataAgeUs);
            Assert.Equal(c["accept"].Pid, c["first-read"].Pid);
        }
        return conns;
    }

    [Fact]
    public void A_server_that_delays_its_read_shows_the_wait_between_accept_and_first_read()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var trace = TcpqTrace.Start(["--format", "json", "-e", "all", "-p", port.ToString(), "--summary"]);
        using var server = AppServer.Python(ns, "delay-read", port, connections: 3, delaySeconds: 0.3);
        AppServer.Client(ns, port, 3, Request); // sends at once: the request waits the whole 300 ms
        var records = server.Finish();
        var rows = Settle(trace, ns, 3);
        // one after another, so each connection gets the fd the previous one had: none inherits its state
        var conns = CrossCheck(rows, records, 3);
        foreach (var c in conns.Values)
        {
            Assert.InRange(c["first-read"].WaitUs!.Value, 290_000, 2_000_000);
            // the data may have come before accept (the request is sent at once): its age reaches
            // back over the accept-queue wait too
            Assert.InRange(c["first-read"].DataAgeUs!.Value, 280_000, c["first-read"].WaitUs!.Value + c["accept"].WaitUs!.Value + 1_000);
            Assert.InRange(c["first-write"].WaitUs!.Value, 0, 100_000);
            Assert.Equal("peer", c["close"].ClosedBy);
        }
        Assert.Equal(0, trace.Stop());
        output.WriteLine(trace.Stdout);
        Assert.Matches(@"WARNING\s+slow-read: the application accepts promptly on :\d+ \(accept-queue wait p90 [\d.]+ (µs|ms)\) but reads late", trace.Stdout);
        Assert.DoesNotContain("slow-response", trace.Stdout);
    }

    [Fact]
    public void A_server_that_delays_its_write_shows_the_wait_between_first_read_and_first_write()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var trace = TcpqTrace.Start(["--format", "json", "-e", "all", "-p", port.ToString(), "--summary"]);
        using var server = AppServer.Python(ns, "delay-write", port, connections: 3, delaySeconds: 0.3);
        AppServer.Client(ns, port, 3, Request);
        var conns = CrossCheck(Settle(trace, ns, 3), server.Finish(), 3);
        foreach (var c in conns.Values)
        {
            Assert.InRange(c["first-write"].WaitUs!.Value, 290_000, 2_000_000);
            Assert.InRange(c["first-read"].WaitUs!.Value, 0, 100_000);
        }
        Assert.Equal(0, trace.Stop());
        output.WriteLine(trace.Stdout);
        Assert.Matches(@"WARNING\s+slow-response: the application on :\d+ reads promptly", trace.Stdout);
        Assert.DoesNotContain("slow-read", trace.Stdout);
    }

    [Fact]
    public void On_epoll_with_non_blocking_sockets_a_read_that_returns_EAGAIN_is_not_the_first_read()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var trace = TcpqTrace.Start(["--format", "json", "-e", "all", "-p", port.ToString()]);
        using var server = AppServer.Python(ns, "epoll", port, connections: 3);
        AppServer.Client(ns, port, 3, Request, pauseSeconds: 0.2, untilEof: true); // sends 200 ms after connecting
        var records = server.Finish();
        Assert.All(records, r => Assert.Equal(["eagain", "read", "write"], r.Events)); // the server did try to read at once
        var conns = CrossCheck(Settle(trace, ns, 3), records, 3);
        foreach (var c in conns.Values)
        {
            Assert.InRange(c["first-read"].WaitUs!.Value, 150_000, 2_000_000);  // the read after epoll, not the EAGAIN
            Assert.InRange(c["first-read"].DataAgeUs!.Value, 0, 50_000);         // read as soon as it came
            Assert.Equal("app", c["close"].ClosedBy);
        }
    }

    [Fact]
    public void On_io_uring_the_read_and_write_without_syscalls_are_seen()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var trace = TcpqTrace.Start(["--format", "json", "-e", "all", "-p", port.ToString()]);
        using var server = AppServer.Uring(ns, port, connections: 3);
        AppServer.Client(ns, port, 3, Request, pauseSeconds: 0.05, untilEof: true);
        var conns = CrossCheck(Settle(trace, ns, 3), server.Finish(), 3);
        Assert.All(conns.Values, c => Assert.Equal("app", c["close"].ClosedBy));
    }

    [Fact]
    public void Requests_that_arrive_before_accept_count_their_wait_from_their_arrival()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var trace = TcpqTrace.Start(["--format", "json", "-e", "all", "-p", port.ToString(), "--summary"]);
        using var server = AppServer.Python(ns, "late-accept", port, connections: 2, delaySeconds: 0.3);
        AppServer.Client(ns, port, 2, Request, sendAtOnce: true);
        var conns = CrossCheck(Settle(trace, ns, 2), server.Finish(), 2);
        foreach (var c in conns.Values)
        {
            Assert.InRange(c["first-read"].WaitUs!.Value, 0, 100_000);                       // read at once after accept
            Assert.True(c["first-read"].DataAgeUs > c["first-read"].WaitUs + 250_000, c["first-read"].ToString()); // but the data came before it
        }
        Assert.Equal(0, trace.Stop());
        output.WriteLine(trace.Stdout);
        Assert.Matches(@"requests-before-accept: 2 of 2 first requests on :\d+ arrived before accept\(\)", trace.Stdout);
    }

    [Fact]
    public void Under_nginx_and_ab_every_connection_has_its_rows_and_the_bytes_ab_counted()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var nginx = NginxServer.Start(ns, port, 64, [$"127.0.0.1:{port}"]);
        using var trace = TcpqTrace.Start(["--format", "json", "-e", "all", "-p", port.ToString()]);
        const int n = 200;
        string ab = Shell.Run("timeout", ["60", "ip", "netns", "exec", ns.Name, "ab", "-q", "-n", n.ToString(), "-c", "4", $"http://127.0.0.1:{port}/"]);
        Assert.Matches($@"Complete requests:\s+{n}\b", ab);
        long transferred = long.Parse(Regex.Match(ab, @"Total transferred:\s+(\d+) bytes").Groups[1].Value);
        var rows = Settle(trace, ns, n);
        var conns = ByConnection(rows);
        var complete = conns.Values.Where(c => c.ContainsKey("first-read")).ToList();
        Assert.Equal(n, complete.Count);
        // ab may open a connection more than it needs and close it unused: no read, no write, closed by it
        foreach (var extra in conns.Values.Where(c => !c.ContainsKey("first-read")))
        {
            output.WriteLine("unused: " + string.Join(" | ", extra.Values));
            Assert.False(extra.ContainsKey("first-write"));
            if (extra.TryGetValue("close", out var close)) Assert.Equal(("peer", 0L, 0L), (close.ClosedBy, close.BytesIn!.Value, close.BytesOut!.Value));
        }
        foreach (var c in complete)
        {
            Assert.Equal(["accept", "first-read", "first-write", "close"], c.Values.OrderBy(r => r.Ts).Select(r => r.Action));
            Assert.Equal(c["first-read"].BytesIn, c["close"].BytesIn);       // one request per connection (HTTP/1.0)
            Assert.Equal(c["first-write"].BytesOut, c["close"].BytesOut);    // one answer, written at once
            Assert.Equal("nginx", c["first-read"].Comm);
            Assert.Equal(c["accept"].Pid, c["first-write"].Pid);
            Assert.Equal("app", c["close"].ClosedBy);                        // nginx closes an HTTP/1.0 connection
        }
        Assert.Equal(transferred, complete.Sum(c => c["close"].BytesOut!.Value)); // what ab received is what nginx wrote
    }
}
