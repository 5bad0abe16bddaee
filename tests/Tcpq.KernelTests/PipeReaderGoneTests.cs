using System.Diagnostics;
using System.Net;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary><c>tcpq … | head -2</c>: once the reader has gone, the next write fails with EPIPE and
/// tcpq ends at once with exit 0, its programs detached (it used to trace on for minutes: .NET's
/// console stream swallows EPIPE).</summary>
public class PipeReaderGoneTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData("ebpf")]
    [InlineData("diag")]
    public void Trace_ends_with_0_within_a_second_of_the_next_event_after_the_reader_closes(string backend)
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        using var tcpq = PipedTcpq.Start(["trace", "--backend", backend, "-p", port.ToString(), "-e", "syn-aa"],
            prefix: backend == "diag" ? ["ip", "netns", "exec", ns.Name] : null);
        Assert.StartsWith("TS,Date,Action,", tcpq.ReadLine(Wait));
        var ours = BpfPrograms.HeldBy(tcpq.Pid);
        Assert.True(backend == "ebpf" ? ours.Count > 0 : ours.Count == 0, $"{ours.Count} programs");

        Connect(ns, listener, port);
        Assert.Contains(",syn-aa,", tcpq.ReadLine(Wait));
        tcpq.CloseReader();
        Thread.Sleep(300);
        Assert.False(tcpq.HasExited, "tcpq ended before it had anything to write");

        Connect(ns, listener, port);
        var sw = Stopwatch.StartNew();
        Assert.Equal(0, tcpq.WaitForExit(TimeSpan.FromSeconds(1)));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1));

        var left = BpfPrograms.Tcpq().Intersect(ours).ToList();
        for (int i = 0; i < 40 && left.Count > 0; i++)
        {
            Thread.Sleep(50);
            left = BpfPrograms.Tcpq().Intersect(ours).ToList();
        }
        Assert.Empty(left);
    }

    /// <summary>A connection that stays a while: the sampled backend sees only what lasts across a sample.</summary>
    private static void Connect(NetNamespace ns, System.Net.Sockets.Socket listener, int port)
    {
        using var client = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
        using var server = listener.AcceptWithin(Wait);
        Thread.Sleep(300);
    }

    [Fact]
    public void Listeners_watch_ends_with_0_at_the_next_snapshot_after_the_reader_closes()
    {
        using var ns = NetNamespace.Create();
        using var listener = ns.Listen(IPAddress.Loopback, Ports.Next(), backlog: 8);
        using var tcpq = PipedTcpq.Start(["listeners", "--netns", ns.Path, "--watch", "0.2", "--format", "csv"]);
        Assert.StartsWith("time,netns,", tcpq.ReadLine(Wait));
        tcpq.CloseReader();
        Assert.Equal(0, tcpq.WaitForExit(TimeSpan.FromSeconds(1)));
    }
}
