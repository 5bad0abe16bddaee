using System.Net;
using System.Net.Sockets;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>Each scenario in its own namespace, with the tracer in the host's, as a user runs it.</summary>
public class HandshakeScenarioTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    [Fact]
    public void An_IPv6_connection_is_followed_from_SYN_to_accept()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.IPv6Loopback, port, backlog: 8);
        using var trace = TcpqTrace.Start(["--format", "json", "-p", port.ToString()]);

        using var client = ns.StartConnect(new IPEndPoint(IPAddress.IPv6Loopback, port));
        using var server = listener.AcceptWithin(Wait);
        var rows = trace.WaitFor(r => r.Any(x => x.Action == "accept"), Wait).In(ns);

        Assert.Equal(["syn", "syn-aa", "accept"], rows.Select(r => r.Action));
        Assert.All(rows, r => Assert.Equal(("::1", "::1", client.LocalPort(), port), (r.SourceIp, r.DestIp, r.SourcePort, r.DestPort)));
        Assert.Equal(8, rows[0].QMax);
    }

    [Fact]
    public void An_IPv4_client_of_a_dual_stack_listener_prints_as_IPv4()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.IPv6Any, port, backlog: 8, dualStack: true);
        using var trace = TcpqTrace.Start(["--format", "json", "-p", port.ToString()]);

        using var client = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
        using var server = listener.AcceptWithin(Wait);
        var rows = trace.WaitFor(r => r.Any(x => x.Action == "accept"), Wait).In(ns);

        Assert.Equal(["syn", "syn-aa", "accept"], rows.Select(r => r.Action));
        Assert.All(rows, r => Assert.Equal(("127.0.0.1", "127.0.0.1"), (r.SourceIp, r.DestIp)));
        // one connection, one timeline: the accept finds the SYN's entry (same key for both families)
        Assert.NotNull(rows[2].WaitUs);
    }

    [Fact]
    public void The_port_filter_leaves_other_ports_out()
    {
        using var ns = NetNamespace.Create();
        int traced = Ports.Next(), other = Ports.Next();
        using var l1 = ns.Listen(IPAddress.Loopback, traced, backlog: 8);
        using var l2 = ns.Listen(IPAddress.Loopback, other, backlog: 8);
        using var trace = TcpqTrace.Start(["--format", "json", "-p", traced.ToString()]);

        using var c2 = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, other));
        using var s2 = l2.AcceptWithin(Wait);
        using var c1 = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, traced));
        using var s1 = l1.AcceptWithin(Wait);
        var rows = trace.WaitFor(r => r.Any(x => x.Action == "accept" && x.DestPort == traced), Wait);
        Thread.Sleep(200);
        rows = trace.Rows().In(ns);

        Assert.Contains(rows, r => r.Action == "accept" && r.DestPort == traced);
        Assert.All(rows, r => Assert.Equal(traced, r.DestPort));
    }

    [Fact]
    public void Forced_SYN_cookies_give_syn_cookie_rows_the_kernel_counts_too()
    {
        using var ns = NetNamespace.Create();
        ns.Exec("sysctl", "-qw", "net.ipv4.tcp_syncookies=2");
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        var before = ns.Nstat();
        using var trace = TcpqTrace.Start(["--format", "json", "-p", port.ToString()]);

        var clients = Enumerable.Range(0, 3).Select(_ => ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port))).ToList();
        var accepted = clients.Select(_ => listener.AcceptWithin(Wait)).ToList();
        var rows = trace.WaitFor(r => r.Count(x => x.Action == "accept") == 3, Wait).In(ns);
        var after = ns.Nstat();

        var cookies = rows.Where(r => r.Action == "syn-cookie").ToList();
        Assert.Equal(3, cookies.Count);
        Assert.Equal(Scenario.Delta(before, after, "TcpExtSyncookiesSent"), cookies.Count);
        Assert.Equal(clients.Select(c => c.LocalPort()).Order(), cookies.Select(c => c.SourcePort).Order());
        Assert.Equal(3, rows.Count(r => r.Action == "syn-aa"));
        foreach (var s in clients.Concat(accepted)) s.Dispose();
    }

    [Fact]
    public void A_client_that_resets_while_queued_gives_abort()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        using var trace = TcpqTrace.Start(["--format", "json", "-p", port.ToString()]);

        var resetter = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
        var closer = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
        resetter.WaitConnected(Wait);
        closer.WaitConnected(Wait);
        trace.WaitFor(r => r.Count(x => x.Action == "syn-aa") == 2, Wait);
        int resetPort = resetter.LocalPort(), closePort = closer.LocalPort();
        resetter.LingerState = new LingerOption(true, 0); // close() sends RST
        resetter.Close();
        closer.Close(); // close() sends FIN
        var rows = trace.WaitFor(r => r.Count(x => x.Action == "abort") == 2, Wait).In(ns);

        var reset = Assert.Single(rows, r => r.Action == "abort" && r.SourcePort == resetPort);
        Assert.Equal("peer-reset", reset.Reason);
        var closed = Assert.Single(rows, r => r.Action == "abort" && r.SourcePort == closePort);
        Assert.Equal("peer-closed", closed.Reason);
        Assert.DoesNotContain(rows, r => r.Action == "accept");

        // the application still gets both from accept() (a reset one already in TCP_CLOSE)
        using var s1 = listener.AcceptWithin(Wait);
        using var s2 = listener.AcceptWithin(Wait);
        rows = trace.WaitFor(r => r.Count(x => x.Action == "accept") == 2, Wait).In(ns);
        Assert.Equal(new[] { closePort, resetPort }.Order(), rows.Where(r => r.Action == "accept").Select(r => r.SourcePort).Order());
    }

    [Fact]
    public void A_final_ACK_into_a_full_accept_queue_gives_ack_drop()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 1);
        var before = ns.Nstat();
        using var trace = TcpqTrace.Start(["--format", "json", "-p", port.ToString()]);

        // the late client's ACKs are held back, so its handshake stays half-open (SYN-RECV, Q0 = 1)
        var late = ns.Client(AddressFamily.InterNetwork);
        int latePort = late.LocalPort();
        var heldBack = ns.DropOutgoing(latePort, "ack");
        late.Blocking = false;
        try { late.Connect(new IPEndPoint(IPAddress.Loopback, port)); }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress) { }
        trace.WaitFor(r => r.Any(x => x.Action == "syn" && x.SourcePort == latePort), Wait);

        // two more clients fill the accept queue (Q 2 > Qmax 1)
        using var a = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
        using var b = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
        trace.WaitFor(r => r.Count(x => x.Action == "syn-aa") == 2, Wait);

        // let the ACKs through: the server's SYN-ACK retransmit draws one into the full queue
        heldBack.Dispose();
        var rows = trace.WaitFor(r => r.Any(x => x.Action == "ack-drop"), TimeSpan.FromSeconds(8)).In(ns);
        var after = ns.Nstat();

        var drop = Assert.Single(rows, r => r.Action == "ack-drop");
        Assert.Equal(latePort, drop.SourcePort);
        Assert.Equal("accept-queue-full", drop.Reason); // from this CPU's counters (the kernel frees it as TCP_LISTEN_OVERFLOW)
        Assert.Equal((2, 1), (drop.Q!.Value, drop.QMax!.Value));
        Assert.Contains(rows, r => r.Action == "synack-retrans" && r.SourcePort == latePort);
        Assert.True(Scenario.Delta(before, after, "TcpExtListenOverflows") >= 1);
        Assert.Equal(Scenario.Delta(before, after, "TcpExtListenDrops"), rows.Count(r => r.Action is "syn-drop" or "ack-drop"));
        late.Dispose();
    }

    [Fact]
    public void A_SYN_retry_answered_by_an_existing_request_socket_is_not_a_drop()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        // the server's SYN-ACKs are lost, so the client retries its SYN while the request socket waits
        var heldBack = ns.DropOutgoing(port, "syn|ack");
        var before = ns.Nstat();
        using var trace = TcpqTrace.Start(["--format", "json", "-p", port.ToString()]);

        using var client = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
        trace.WaitFor(r => r.Count(x => x.Action == "syn") >= 2, TimeSpan.FromSeconds(4));
        heldBack.Dispose();
        using var server = listener.AcceptWithin(TimeSpan.FromSeconds(8));
        var rows = trace.WaitFor(r => r.Any(x => x.Action == "accept"), Wait).In(ns);
        var after = ns.Nstat();

        Assert.True(rows.Count(r => r.Action == "syn") >= 2, string.Join("\n", rows));
        Assert.Contains(rows, r => r.Action == "synack-retrans");
        Assert.DoesNotContain(rows, r => r.Action is "syn-drop" or "ack-drop");
        Assert.Equal(0, Scenario.Delta(before, after, "TcpExtListenDrops"));
        Assert.Single(rows, r => r.Action == "syn-aa");
    }
}
