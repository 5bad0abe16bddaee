using System.Diagnostics;
using System.Net;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>Starting, running and stopping: live when the header is out, clean after a signal,
/// working from inside a namespace, and never losing an event without saying so.</summary>
public class TraceLifecycleTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    [Fact]
    public void The_header_comes_once_every_program_is_attached_and_SIGTERM_detaches_them_all()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        using var trace = TcpqTrace.Start(["-p", port.ToString()]);
        var ours = BpfPrograms.HeldBy(trace.Pid);
        Assert.Equal("TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax,Dest IP,Attempt,Wait us,PID,Comm,Reason,Bytes In,Bytes Out,Data Age us,Closed By,Reset",
            trace.ReadOutput().Split('\n')[0]);
        // ingress, consume/kfree_skb, set_state, synack, accept, accept4, io_uring's complete and
        // cqe_overflow (not the application's: off by default)
        Assert.Equal(9, ours.Count);

        // a row is in the file soon after its event, while tracing goes on
        using var client = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
        using var server = listener.AcceptWithin(Wait);
        var sw = Stopwatch.StartNew();
        while (!trace.ReadOutput().Contains(",accept,", StringComparison.Ordinal) && sw.Elapsed < Wait) Thread.Sleep(10);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"the accept row took {sw.Elapsed.TotalMilliseconds} ms to reach the file");

        Assert.Equal(0, trace.Stop(Posix.SIGTERM));
        // the kernel frees a detached program after an RCU grace period: give it a moment
        var left = BpfPrograms.Tcpq().Intersect(ours).ToList();
        for (int i = 0; i < 40 && left.Count > 0; i++)
        {
            Thread.Sleep(50);
            left = BpfPrograms.Tcpq().Intersect(ours).ToList();
        }
        Assert.Empty(left);
        Assert.Contains(trace.Stderr, l => l.EndsWith("events, none lost", StringComparison.Ordinal));
        Assert.Equal(3, trace.ReadOutput().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length - 1);
    }

    [Fact]
    public void Events_without_accept_load_no_syscall_tracepoint()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        using var trace = TcpqTrace.Start(["-p", port.ToString(), "--events", "syn,syn-aa", "--format", "json"]);
        var ours = BpfPrograms.HeldBy(trace.Pid);
        // the syscall tracepoints (accept) and synack-retrans are not loaded: they make no row here
        Assert.Equal(["tcpq_consume_skb", "tcpq_ingress", "tcpq_kfree_skb", "tcpq_set_state"], BpfPrograms.Names(ours));

        using var client = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
        using var server = listener.AcceptWithin(Wait);
        var rows = trace.WaitFor(r => r.Count >= 2, Wait);
        Assert.Equal(0, trace.Stop(Posix.SIGTERM));
        rows = trace.Rows();
        Assert.Equal(["syn", "syn-aa"], rows.Select(r => r.Action).ToList());
    }

    [Fact]
    public void Duration_ends_the_trace_by_itself()
    {
        var output = Shell.RunWithCode(TcpqTrace.Binary, ["trace", "-p", Ports.Next().ToString(), "--duration", "0.5"], out int code,
            timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(0, code);
        Assert.StartsWith("TS,Date,Action,", output);
    }

    [Fact]
    public void Rows_to_dev_null_or_to_a_file_with_a_longer_earlier_trace()
    {
        var output = Shell.RunWithCode(TcpqTrace.Binary, ["trace", "-p", Ports.Next().ToString(), "-d", "0.3", "-o", "/dev/null"], out int code,
            timeout: TimeSpan.FromSeconds(30));
        Assert.True(code == 0, output);

        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, new string('x', 100_000) + "\n");
            output = Shell.RunWithCode(TcpqTrace.Binary, ["trace", "-p", Ports.Next().ToString(), "-d", "0.3", "-o", file], out code,
                timeout: TimeSpan.FromSeconds(30));
            Assert.True(code == 0, output);
            Assert.StartsWith("TS,Date,Action,", File.ReadAllText(file));
            Assert.DoesNotContain("xxx", File.ReadAllText(file)); // emptied once tracing was live
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Started_inside_a_namespace_with_ip_netns_exec_it_finds_or_mounts_what_it_needs()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        using var trace = TcpqTrace.Start(["--format", "json", "-p", port.ToString()], prefix: ["ip", "netns", "exec", ns.Name]);

        using var client = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
        using var server = listener.AcceptWithin(Wait);
        var rows = trace.WaitFor(r => r.Any(x => x.Action == "accept"), Wait).In(ns);
        Assert.Equal(["syn", "syn-aa", "accept"], rows.Select(r => r.Action));
        Assert.Equal(0, trace.Stop());
    }

    [Fact]
    public void Events_that_do_not_fit_the_ring_buffer_are_counted_and_reported()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        const int connections = 100;
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: connections);
        using var trace = TcpqTrace.Start(["--format", "json", "-p", port.ToString(), "--ring-buffer-kb", "4"]);

        // the reader is stopped, so the 4 KiB buffer fills up (~36 events) and the rest is lost
        Posix.Kill(trace.Pid, Posix.SIGSTOP);
        try
        {
            for (int i = 0; i < connections; i++)
            {
                using var c = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
                using var s = listener.AcceptWithin(Wait);
            }
        }
        finally
        {
            Posix.Kill(trace.Pid, Posix.SIGCONT);
        }
        Thread.Sleep(300);
        Assert.Equal(0, trace.Stop());

        var rows = trace.Rows().In(ns);
        var summary = Assert.Single(trace.Stderr, l => l.Contains("LOST", StringComparison.Ordinal));
        long lost = long.Parse(summary.Split(' ')[3]);
        Assert.True(lost > 0, summary);
        // syn, syn-aa, accept per connection
        Assert.True(3 * connections == rows.Count + lost, $"{rows.Count} rows + {lost} lost: {string.Join(" | ", trace.Stderr)}\n{string.Join("\n", trace.Rows().Where(r => r.NetNs != ns.Inode).Take(5))}"); 
        Assert.Contains(trace.Stderr, l => l.StartsWith("tcpq: lost ", StringComparison.Ordinal));
    }

    [Fact]
    public void Format_none_writes_no_rows_and_the_summary_counts_the_connections()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        using var trace = TcpqTrace.Start(["--format", "none", "--summary", "--summary-format", "json", "-p", port.ToString()]);

        for (int i = 0; i < 3; i++)
        {
            using var c = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
            using var s = listener.AcceptWithin(Wait);
        }
        Thread.Sleep(300);
        Assert.Equal(0, trace.Stop());

        Assert.Equal("", trace.ReadOutput());
        using var summary = System.Text.Json.JsonDocument.Parse(trace.Stdout);
        var ports = summary.RootElement.GetProperty("ports").EnumerateArray().Where(p => p.GetProperty("port").GetInt32() == port).ToList();
        var ours = Assert.Single(ports);
        Assert.Equal(3, ours.GetProperty("accepted").GetInt32());
    }
}
