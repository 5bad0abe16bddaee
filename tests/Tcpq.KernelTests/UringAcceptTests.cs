using System.Diagnostics;
using Tcpq.Bpf;
using Tcpq.Events;
using Tcpq.KernelTests.Fixtures;
using Xunit.Abstractions;

namespace Tcpq.KernelTests;

/// <summary>
/// Issue #22: servers that accept through io_uring (liburing, IORING_OP_ACCEPT) and never call
/// accept(). Every connection has its `accept` row with its wait in the accept queue and the
/// process, cross-checked against what the server recorded (the client's port, its pid and comm,
/// when it submitted the accept and when it reaped the completion) and against the kernel's count
/// of connections (nstat's TcpPassiveOpens). Each mode takes the paths its name says:
/// single-shot (queued, CQ overflow, poll, io-wq), multishot (completions without a request, on a
/// DEFER_TASKRUN ring), direct (fixed-file slots, on an SQPOLL ring, with the first read's wait
/// since that accept), and a multishot accept armed before tcpq started.
/// </summary>
public class UringAcceptTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private static TcpqTrace Trace(int port, string events = "default") =>
        TcpqTrace.Start(["--format", "json", "-p", port.ToString(), "-e", events]);

    /// <summary>The rows of the namespace once every connection has its accept row (or the wait is over).</summary>
    private static List<TraceRow> Settle(TcpqTrace trace, NetNamespace ns, int connections) =>
        trace.WaitFor(r => r.In(ns).Count(x => x.Action == "accept") >= connections, Wait).In(ns);

    /// <summary>One accept row per connection the server recorded, none more; its process, its
    /// time between the server's submit and reap, its wait since the handshake (syn-aa), and for
    /// the connections that were queued before the server armed, a wait that covers the time
    /// they sat there.</summary>
    private void CrossCheck(NetNamespace ns, UringAcceptServer server, List<TraceRow> rows, List<UringAcceptServer.Record> records,
        int connections, IReadOnlySet<int> queuedBeforeArming)
    {
        foreach (var r in rows) output.WriteLine(r.ToString());
        foreach (var rec in records) output.WriteLine(rec.ToString());
        Assert.Equal(connections, records.Count);
        Assert.Equal(connections, ns.Nstat().GetValueOrDefault("TcpPassiveOpens"));
        var accepts = rows.Where(r => r.Action == "accept").ToList();
        Assert.Equal(connections, accepts.Count);
        foreach (var rec in records)
        {
            var accept = Assert.Single(accepts, r => r.SourcePort == rec.Port);
            var synAa = Assert.Single(rows, r => r.Action == "syn-aa" && r.SourcePort == rec.Port);
            Assert.Equal(server.Pid, rec.Pid);
            Assert.Equal((rec.Pid, rec.Comm), (accept.Pid!.Value, accept.Comm));
            Assert.InRange(accept.Ts, rec.ArmedNs, rec.AcceptedNs);
            long queuedUs = (accept.Ts - synAa.Ts) / 1000;
            Assert.InRange(accept.WaitUs!.Value, queuedUs - 1, queuedUs + 1);
            if (queuedBeforeArming.Contains(rec.Port))
            {
                Assert.True(synAa.Ts < rec.ArmedNs, $"{rec} was connected before the server armed");
                Assert.True(accept.WaitUs >= (rec.ArmedNs - synAa.Ts) / 1000, $"{accept} waited in the queue until at least {rec.ArmedNs}");
            }
        }
    }

    /// <summary>tcpq stops cleanly, lost nothing, said nothing about io_uring, and wrote a syn, a
    /// syn-aa and an accept row per connection (and as many more as asked), nothing else.</summary>
    private static void Stopped(TcpqTrace trace, int connections, int rowsEach = 3)
    {
        Assert.Equal(0, trace.Stop());
        Assert.Contains($"tcpq: {rowsEach * connections} events, none lost", trace.Stderr);
        Assert.DoesNotContain(trace.Stderr, l => l.Contains("io_uring", StringComparison.Ordinal));
    }

    [Fact]
    public void Single_shot_accepts_have_their_rows_whether_queued_overflowed_polled_or_in_an_io_wq_worker()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var trace = Trace(port);
        using var server = UringAcceptServer.Start(ns, port, "single", 4);
        var queued = new HashSet<int> { server.Connect(), server.Connect() }; // the first accept and the overflowing one take these
        server.Arm();
        server.Connect(); // the accept waits in poll for it
        server.Connect(); // an io-wq worker accepts it (IOSQE_ASYNC)
        var records = server.Finish();
        CrossCheck(ns, server, Settle(trace, ns, 4), records, 4, queued);
        Assert.Equal(["queued", "overflow", "polled", "async"], records.Select(r => r.How));
        Assert.True(records[1].Overflowed, "the kernel put the second accept's completion in the overflow list");
        Stopped(trace, 4);
    }

    [Fact]
    public void A_multishot_accept_has_a_row_for_every_connection_it_completes()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var trace = Trace(port);
        using var server = UringAcceptServer.Start(ns, port, "multishot", 5);
        var queued = new HashSet<int> { server.Connect(), server.Connect(), server.Connect() }; // accepted as the request is submitted
        server.Arm();
        server.Connect(); // after it waits in poll
        server.Connect();
        var records = server.Finish();
        CrossCheck(ns, server, Settle(trace, ns, 5), records, 5, queued);
        Assert.All(records, r => Assert.Equal("multishot", r.How));
        Stopped(trace, 5);
    }

    [Fact]
    public void Direct_accepts_into_fixed_file_slots_have_their_rows()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var trace = Trace(port, "default,first-read");
        using var server = UringAcceptServer.Start(ns, port, "direct", 4);
        var queued = new HashSet<int> { server.Connect(), server.Connect() };
        server.Arm();
        server.Connect();
        server.Connect();
        var records = server.Finish();
        CrossCheck(ns, server, Settle(trace, ns, 4), records, 4, queued);
        // the slot asked for: res 0; the slots io_uring chose: res is the slot
        Assert.Equal(["slot", "alloc", "alloc", "alloc"], records.Select(r => r.How));
        Assert.Equal(0, records[0].Res);
        Assert.All(records.Skip(1), r => Assert.InRange(r.Res, 0, 7));
        // the application's rows take the time of accept from io_uring's too: the server reads the
        // port its client sent, through the slot, after the accept
        var rows = trace.WaitFor(r => r.In(ns).Count(x => x.Action == "first-read") >= 4, Wait).In(ns);
        foreach (var rec in records)
        {
            var accept = Assert.Single(rows, r => r.Action == "accept" && r.SourcePort == rec.Port);
            var read = Assert.Single(rows, r => r.Action == "first-read" && r.SourcePort == rec.Port);
            Assert.Equal((rec.Pid, (long)rec.Port.ToString().Length), (read.Pid!.Value, read.BytesIn!.Value));
            long sinceAccept = (read.Ts - accept.Ts) / 1000;
            Assert.InRange(read.WaitUs!.Value, sinceAccept - 1, sinceAccept + 1);
        }
        Stopped(trace, 4, rowsEach: 4);
    }

    [Fact]
    public void A_multishot_accept_armed_before_tcpq_started_is_seen_from_its_next_connection()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var server = UringAcceptServer.Start(ns, port, "multishot", 2);
        server.Arm(); // nothing queued: the request waits in poll, submitted before tcpq runs
        Assert.Equal(1_000_000_000, Stopwatch.Frequency); // CLOCK_MONOTONIC in ns, as the server's records and tcpq's ts
        long beforeTcpq = Stopwatch.GetTimestamp();
        using var trace = Trace(port);
        server.Connect();
        server.Connect();
        var records = server.Finish();
        CrossCheck(ns, server, Settle(trace, ns, 2), records, 2, new HashSet<int>());
        Assert.All(records, r => Assert.True(r.ArmedNs < beforeTcpq, $"{r} was armed before tcpq started"));
        Stopped(trace, 2);
    }

    /// <summary>The io_uring hooks run on every io_uring completion of the machine: they load for
    /// accept's rows (and the application's, which need the time of accept), not for other rows
    /// (counting mode's object has none).</summary>
    [Fact]
    public void The_io_uring_hooks_load_only_for_accept_and_application_rows()
    {
        Requirements.Check();
        ushort port = (ushort)Ports.Next();
        List<string> Loaded(TraceConfig config)
        {
            var before = BpfPrograms.Tcpq();
            using var tracer = Tracer.Start(config, IEventSink.None);
            Assert.Null(tracer.UringAcceptsUnseen);
            var ours = BpfPrograms.Tcpq();
            ours.ExceptWith(before);
            return BpfPrograms.Names(ours).Where(n => n.StartsWith("tcpq_uring_", StringComparison.Ordinal)).ToList();
        }
        string[] all = ["tcpq_uring_complete", "tcpq_uring_overflow"];
        Assert.Equal(all, Loaded(new TraceConfig([port], new HashSet<EventKind> { EventKind.Accept }, TraceConfig.MinRingBufferKb)));
        Assert.Equal(all, Loaded(new TraceConfig([port], new HashSet<EventKind> { EventKind.FirstRead }, TraceConfig.MinRingBufferKb)));
        Assert.Empty(Loaded(new TraceConfig([port], new HashSet<EventKind> { EventKind.Syn, EventKind.SynAa }, TraceConfig.MinRingBufferKb)));
    }
}
