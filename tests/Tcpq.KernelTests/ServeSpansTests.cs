using System.Net;
using System.Net.Sockets;
using Tcpq.Aggregates;
using Tcpq.Bpf;
using Tcpq.Commands;
using Tcpq.Events;
using Tcpq.KernelTests.Fixtures;
using Tcpq.Spans;
using Xunit.Abstractions;

namespace Tcpq.KernelTests;

/// <summary>serve --spans-slower-than (issue 25): counting mode's kernel side sends a record only for
/// a connection slower than the threshold, dropped or retried; each becomes one trace, and the
/// listener's histograms carry its trace id as an exemplar that a real Prometheus stores. The spans
/// go to a recording sink here (the OTLP exporter is trace's side of the issue).</summary>
public class ServeSpansTests(ITestOutputHelper output)
{
    /// <summary>What a sink got: a copy (the source reuses its span).</summary>
    public sealed record Recorded(string TraceId, ulong FirstSynNs, ulong EstablishedNs, ulong AcceptNs, ulong EndNs,
        int ClientPort, uint Pid, string? Comm, bool Aborted, string? AbortReason, List<ConnectionSpanEvent> Events);

    /// <summary>Both tests' start: a namespace without SYN cookies (a full queue drops) and a
    /// listener there with an accept queue of one, whose spans a sink records.</summary>
    private sealed class SmallQueue : IDisposable
    {
        public required NetNamespace Ns { get; init; }
        public required int Port { get; init; }
        public required Socket Listener { get; init; }
        public RecordingSink Sink { get; } = new();

        public static SmallQueue Open()
        {
            Requirements.Check();
            var ns = NetNamespace.Create();
            try
            {
                ns.Exec("sysctl", "-q", "-w", "net.ipv4.tcp_syncookies=0");
                int port = Ports.Next();
                return new SmallQueue { Ns = ns, Port = port, Listener = ns.Listen(IPAddress.Loopback, port, backlog: 1) };
            }
            catch
            {
                ns.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            Listener.Dispose();
            Ns.Dispose();
        }
    }

    public sealed class RecordingSink : IConnectionSpanSink
    {
        private readonly List<Recorded> _spans = [];

        public void Write(ConnectionSpan s)
        {
            lock (_spans)
                _spans.Add(new(s.TraceId.ToHexString(), s.FirstSynNs, s.EstablishedNs, s.AcceptNs, s.EndNs, s.Key.SourcePort,
                    s.Pid, s.Comm, s.Aborted, s.AbortReason, [.. s.Events]));
        }

        public List<Recorded> Spans
        {
            get { lock (_spans) return [.. _spans]; }
        }
    }

    private static readonly TimeSpan Threshold = TimeSpan.FromMilliseconds(200);

    /// <summary>Two clients queue behind a backlog of 1 and are accepted 600 ms later; two more are
    /// dropped (accept-queue-full), retry after 1 s and get in; a fifth comes and goes at once.
    /// Returns the ports of the queued and of the dropped clients.</summary>
    private static (List<int> Queued, List<int> Dropped, int Fast) SlowAndDroppedClients(NetNamespace ns, Socket listener, int port)
    {
        var to = new IPEndPoint(IPAddress.Loopback, port);
        var queued = new List<Socket> { ns.StartConnect(to) };
        Thread.Sleep(20);
        queued.Add(ns.StartConnect(to));
        foreach (var c in queued) c.WaitConnected(TimeSpan.FromSeconds(2));
        Thread.Sleep(20);
        var dropped = new List<Socket> { ns.StartConnect(to), ns.StartConnect(to) };
        Thread.Sleep(600);
        var accepted = new List<Socket> { listener.AcceptWithin(TimeSpan.FromSeconds(1)), listener.AcceptWithin(TimeSpan.FromSeconds(1)) };
        // their retries (1 s after their first SYN) find room: accepted as they come
        foreach (var c in dropped) accepted.Add(listener.AcceptWithin(TimeSpan.FromSeconds(3)));
        foreach (var c in dropped) c.WaitConnected(TimeSpan.FromSeconds(1));
        var fast = ns.StartConnect(to);
        accepted.Add(listener.AcceptWithin(TimeSpan.FromSeconds(1)));
        fast.WaitConnected(TimeSpan.FromSeconds(1));
        var ports = (queued.Select(c => c.LocalPort()).ToList(), dropped.Select(c => c.LocalPort()).ToList(), fast.LocalPort());
        foreach (var s in accepted.Concat(queued).Concat(dropped).Append(fast)) s.Dispose();
        return ports;
    }

    [Fact]
    public void A_client_whose_only_syn_was_dropped_and_that_gave_up_becomes_one_failed_trace()
    {
        // no record comes from the kernel for it (it never got in): its entry in counting mode's
        // table of dropped SYNs, quiet past GaveUpAfter, is what makes it a trace, and only once
        using var setup = SmallQueue.Open();
        var (ns, port, listener, sink) = (setup.Ns, setup.Port, setup.Listener, setup.Sink);
        using var counters = KernelCounters.Start([(ushort)port], DropReasons.Empty, sample: LatencySampling.Always, spansSlowerThan: Threshold);
        var spans = new SlowConnectionSpans(counters.Spans, sink, 100, WallClock.System())
        {
            GaveUpAfter = TimeSpan.FromMilliseconds(500),
            ScanEvery = TimeSpan.FromMilliseconds(100),
        };
        var to = new IPEndPoint(IPAddress.Loopback, port);
        var before = ns.Nstat();
        // a backlog of 1 holds two: the third client's SYN is dropped (accept-queue-full)
        var queued = new List<Socket> { ns.StartConnect(to), ns.StartConnect(to) };
        foreach (var c in queued) c.WaitConnected(TimeSpan.FromSeconds(2));
        var gaveUp = ns.StartConnect(to);
        int gaveUpPort = gaveUp.LocalPort();
        Thread.Sleep(300);
        spans.Poll(); // the drop is settled and known; the client is not quiet long enough yet
        Assert.DoesNotContain(sink.Spans, s => s.ClientPort == gaveUpPort);
        gaveUp.Dispose(); // before its retry (1 s after its SYN): it sends nothing more
        var after = ns.Quiet();
        Assert.Equal(1, Scenario.Delta(before, after, "TcpExtListenDrops"));

        // polled as serve does, a few scans past GaveUpAfter
        for (int i = 0; i < 20; i++)
        {
            spans.Poll();
            Thread.Sleep(100);
        }
        var got = sink.Spans.Where(s => s.ClientPort == gaveUpPort).ToList();
        foreach (var s in sink.Spans) output.WriteLine(s.ToString());
        var t = Assert.Single(got);
        Assert.True(t.Aborted);
        Assert.Equal("syn-dropped", t.AbortReason);
        Assert.Equal([("syn-drop", 1u)], t.Events.Select(e => (e.Name, e.Attempt)));
        Assert.True(t.FirstSynNs > 0);
        Assert.Equal((t.FirstSynNs, 0ul, 0ul, t.FirstSynNs), (t.Events[0].AtNs, t.EstablishedNs, t.AcceptNs, t.EndNs));
        // counting is untouched by the read: the drop stays one drop of one client
        var a = counters.Read().Listeners.Single(l => l.Key.NetNs == ns.Inode && l.Key.Port == port);
        Assert.Equal(1, a.AllDrops);
        foreach (var c in queued) c.Dispose();
    }

    [Fact]
    public void Only_the_slow_and_the_dropped_connections_become_traces_with_the_kernels_times()
    {
        using var setup = SmallQueue.Open();
        var (ns, port, listener, sink) = (setup.Ns, setup.Port, setup.Listener, setup.Sink);
        using var counters = KernelCounters.Start([(ushort)port], DropReasons.Empty, sample: LatencySampling.Always, spansSlowerThan: Threshold);
        Assert.NotNull(counters.Spans);
        var spans = new SlowConnectionSpans(counters.Spans, sink, 100, WallClock.System());
        var before = ns.Nstat();

        // polled every 100 ms while the clients come and go, as serve's loop does
        using var polling = new CancellationTokenSource();
        var poller = new Thread(() => { while (!polling.IsCancellationRequested) { spans.Poll(); Thread.Sleep(100); } });
        poller.Start();
        var (queued, dropped, fast) = SlowAndDroppedClients(ns, listener, port);
        var after = ns.Quiet();
        polling.Cancel();
        poller.Join();
        spans.Poll();
        var a = counters.Read().Listeners.Single(l => l.Key.NetNs == ns.Inode && l.Key.Port == port);
        var got = sink.Spans;
        foreach (var s in got) output.WriteLine(s.ToString());

        // one trace per slow or dropped connection, none for the fast one
        Assert.Equal(queued.Concat(dropped).Order(), got.Select(s => s.ClientPort).Order());
        Assert.DoesNotContain(got, s => s.ClientPort == fast);
        Assert.Equal(got.Count, got.Select(s => s.TraceId).Distinct().Count());
        Assert.Equal(got.Count, spans.Sent);
        Assert.Equal((0L, 0ul), (spans.RateCapped, spans.RingFull));

        // the queued two waited ~600 ms from their handshake to accept(), by this process
        foreach (var s in got.Where(s => queued.Contains(s.ClientPort)))
        {
            Assert.InRange((s.AcceptNs - s.EstablishedNs) / 1e6, 550, 1500);
            Assert.True(s.FirstSynNs > 0 && s.FirstSynNs <= s.EstablishedNs);
            Assert.Equal((uint)Environment.ProcessId, s.Pid);
            Assert.Empty(s.Events);
        }
        // the dropped two: first SYN dropped, the retry 1 s later got in; their drops add up to the kernel's
        foreach (var s in got.Where(s => dropped.Contains(s.ClientPort)))
        {
            Assert.InRange((s.EstablishedNs - s.FirstSynNs) / 1e6, 950, 2500);
            Assert.Equal(["syn-drop", "syn-retry"], s.Events.Select(e => e.Name));
            Assert.Equal(s.FirstSynNs, s.Events[0].AtNs);
            Assert.False(s.Aborted);
        }
        long drops = Scenario.Delta(before, after, "TcpExtListenDrops");
        Assert.Equal(drops, a.AllDrops);
        Assert.Equal(drops, got.Where(s => dropped.Contains(s.ClientPort)).Sum(s => s.Events.Single(e => e.Name == "syn-retry").Attempt - 1));
        // counting stays exact with the records on
        Assert.Equal(Scenario.Delta(before, after, "TcpPassiveOpens"), a.Handshakes);
        Assert.Equal(5, a.Accepts);

        // the exemplars name those traces
        var listenerKey = new ListenerKey(ns.Inode, Address16.FromV4([127, 0, 0, 1]), (ushort)port);
        string labels = Serve.PrometheusExposition.ListenerLabels(listenerKey);
        Assert.True(spans.Exemplars.TryGet(Serve.ExemplarStore.SeriesKey("tcpq_accept_queue_wait_seconds", labels), out var wait));
        Assert.Contains(got, s => s.TraceId == wait.TraceId && queued.Contains(s.ClientPort));
        Assert.InRange(wait.Seconds, 0.55, 1.5);
        Assert.True(spans.Exemplars.TryGet(Serve.ExemplarStore.SeriesKey("tcpq_handshake_duration_seconds", labels), out var handshake));
        Assert.Contains(got, s => s.TraceId == handshake.TraceId && dropped.Contains(s.ClientPort));
    }

    [Fact]
    public void A_client_that_resets_after_waiting_in_the_queue_is_an_aborted_trace_and_a_quick_one_is_none()
    {
        Requirements.Check();
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        var sink = new RecordingSink();
        using var counters = KernelCounters.Start([(ushort)port], DropReasons.Empty, spansSlowerThan: Threshold);
        var spans = new SlowConnectionSpans(counters.Spans, sink, 100, WallClock.System());
        var to = new IPEndPoint(IPAddress.Loopback, port);
        var patient = ns.StartConnect(to);
        var quick = ns.StartConnect(to);
        patient.WaitConnected(TimeSpan.FromSeconds(2));
        quick.WaitConnected(TimeSpan.FromSeconds(2));
        quick.LingerState = new LingerOption(true, 0);
        int quickPort = quick.LocalPort();
        quick.Close(); // a reset 0 ms after its handshake: not slow
        Thread.Sleep(400);
        patient.LingerState = new LingerOption(true, 0);
        int patientPort = patient.LocalPort();
        patient.Close(); // a reset after 400 ms in the queue
        Thread.Sleep(100);
        spans.Poll();

        var s = Assert.Single(sink.Spans);
        Assert.Equal(patientPort, s.ClientPort);
        Assert.NotEqual(quickPort, s.ClientPort);
        Assert.True(s.Aborted);
        Assert.Equal("peer-reset", s.AbortReason);
        Assert.InRange((s.EndNs - s.EstablishedNs) / 1e6, 350, 1000);
        Assert.Equal(2, counters.Read().Listeners.Single(l => l.Key.NetNs == ns.Inode).Aborts.GetValueOrDefault(DropReasons.PeerReset));
    }

    [Fact]
    public void Without_spans_their_ring_is_not_created_and_their_code_is_not_loaded()
    {
        Requirements.Check();
        int port = Ports.Next();
        (int Ringbufs, long XlatedBytes) Loaded(TimeSpan? spans)
        {
            int ringsBefore = RingBuffersHeld();
            using var counters = KernelCounters.Start([(ushort)port], DropReasons.Empty, spansSlowerThan: spans);
            Assert.Equal(spans is not null, counters.Spans is not null);
            return (RingBuffersHeld() - ringsBefore, XlatedBytes("tcpq_count_set_"));
        }
        var off = Loaded(null);
        var on = Loaded(Threshold);
        output.WriteLine($"off: {off}, on: {on}");
        Assert.Equal((0, 1), (off.Ringbufs, on.Ringbufs));
        Assert.True(off.XlatedBytes < on.XlatedBytes, "the verifier removes the span code when spans are off");
    }

    /// <summary>BPF_MAP_TYPE_RINGBUF maps this process holds (/proc/self/fdinfo: map_type 27).</summary>
    private static int RingBuffersHeld() =>
        Directory.EnumerateFiles("/proc/self/fdinfo").Count(f =>
        {
            try { return File.ReadLines(f).Any(l => l.StartsWith("map_type:", StringComparison.Ordinal) && l[9..].Trim() == "27"); }
            catch (IOException) { return false; }
        });

    /// <summary>The translated size of this process's program of that (kernel-truncated) name.</summary>
    private static long XlatedBytes(string name)
    {
        var ids = BpfPrograms.HeldBy(Environment.ProcessId);
        using var doc = System.Text.Json.JsonDocument.Parse(Shell.Run("bpftool", "-j", "prog", "show"));
        return doc.RootElement.EnumerateArray()
            .Where(p => ids.Contains(p.GetProperty("id").GetInt32()) && p.GetProperty("name").GetString()!.StartsWith(name, StringComparison.Ordinal))
            .Select(p => p.GetProperty("bytes_xlated").GetInt64()).Single();
    }

    [Fact]
    public void Prometheus_stores_the_slow_connections_trace_ids_as_exemplars_of_serves_histograms()
    {
        using var setup = SmallQueue.Open();
        var (ns, port, listener, sink) = (setup.Ns, setup.Port, setup.Listener, setup.Sink);
        var options = new ServeOptions(new IPEndPoint(IPAddress.Loopback, 0), [(ushort)port], OtlpEndpoint: new Uri("http://127.0.0.1:9/"))
        {
            LatencySample = LatencySampling.Always,
            SpansSlowerThan = Threshold,
            Workloads = Workloads.WorkloadOptions.Off,
            Dotnet = Dotnet.DotnetTarget.Off,
        }.Validate();
        var console = new CommandConsole(Stream.Null, new MemoryStream(), false, false);
        var serve = new ServeCommand(options, console, () => sink);
        using var stop = new CancellationTokenSource();
        int exit = -1;
        Exception? failed = null;
        var running = new Thread(() =>
        {
            try { exit = serve.Run(stop.Token); }
            catch (Exception e) { failed = e; }
        });
        running.Start();
        try
        {
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (serve.Bound is null && running.IsAlive && DateTime.UtcNow < until) Thread.Sleep(50);
            Assert.NotNull(serve.Bound);
            using var prometheus = PrometheusServer.Start($"127.0.0.1:{serve.Bound.Port}", "exemplar-storage");

            var (queued, dropped, _) = SlowAndDroppedClients(ns, listener, port);
            string selector = $"{{netns=\"{ns.Inode}\",server_port=\"{port}\"}}";
            var exemplars = new List<(Dictionary<string, string> Series, Dictionary<string, string> Labels, double Value)>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            while (DateTime.UtcNow < deadline)
            {
                exemplars = prometheus.QueryExemplars($"tcpq_accept_queue_wait_seconds_bucket{selector}")
                    .Concat(prometheus.QueryExemplars($"tcpq_handshake_duration_seconds_bucket{selector}")).ToList();
                // both: a scrape between the queued clients' accepts (~0.64 s) and the dropped
                // clients' handshakes (~1.04 s) holds the first and not yet the second
                if (exemplars.Any(e => e.Series["__name__"].StartsWith("tcpq_accept", StringComparison.Ordinal)) &&
                    exemplars.Any(e => e.Series["__name__"].StartsWith("tcpq_handshake", StringComparison.Ordinal)))
                    break;
                Thread.Sleep(500);
            }
            var got = sink.Spans;
            foreach (var e in exemplars) output.WriteLine($"{e.Series["__name__"]} le={e.Series["le"]} {e.Labels["trace_id"]} {e.Value}");

            var wait = exemplars.First(e => e.Series["__name__"] == "tcpq_accept_queue_wait_seconds_bucket");
            var waited = got.Single(s => s.TraceId == wait.Labels["trace_id"]);
            Assert.Contains(waited.ClientPort, queued);
            Assert.Equal((waited.AcceptNs - waited.EstablishedNs) / 1e9, wait.Value, 6);
            Assert.InRange(wait.Value, 0.55, 1.5);
            // on the bucket that holds it: 2^20 µs = 1.048576 s
            Assert.Equal("1.048576", wait.Series["le"]);
            // the handshake's exemplars name the dropped clients' spans, with their own time (the
            // first SYN to the retry's handshake: about 1 s)
            Assert.Contains(exemplars, e => e.Series["__name__"] == "tcpq_handshake_duration_seconds_bucket");
            foreach (var e in exemplars.Where(e => e.Series["__name__"] == "tcpq_handshake_duration_seconds_bucket"))
            {
                Assert.Contains(got.Single(s => s.TraceId == e.Labels["trace_id"]).ClientPort, dropped);
                Assert.InRange(e.Value, 0.95, 2.5);
            }
        }
        finally
        {
            stop.Cancel();
            Assert.True(running.Join(TimeSpan.FromSeconds(20)), "serve did not stop");
        }
        Assert.Null(failed);
        Assert.Equal(0, exit);
    }
}
