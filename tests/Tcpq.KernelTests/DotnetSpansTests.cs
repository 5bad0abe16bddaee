using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tcpq.Bpf;
using Tcpq.Connections;
using Tcpq.Dotnet;
using Tcpq.Events;
using Tcpq.KernelTests.Fixtures;
using Tcpq.Spans;

namespace Tcpq.KernelTests;

/// <summary>
/// Issue 25, joined to the application: a real ASP.NET Core app (tests/Tcpq.KestrelApp) traced
/// with OpenTelemetry, in a network namespace, and keep-alive clients making several requests per
/// connection; each request answers with its own span's ids (Activity.Current). tcpq's parts as
/// trace wires them (the kernel programs → DotnetAttacher → ConnectionTracker, with the attacher's
/// request links on) join every request's ids to the connection it came on, by the 4-tuple and the
/// process, in order, and hand them to the connection's span. An app that does not trace gets no
/// activity from tcpq: the bridge listens, it does not make spans.
/// </summary>
public class DotnetSpansTests
{
    private static readonly HashSet<EventKind> KernelRows = [EventKind.Syn, EventKind.SynAa, EventKind.Accept];
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>trace's parts, in this process, on the app's port: the tracker sees the kernel's
    /// rows and the app's request spans.</summary>
    private sealed class Joined : IDisposable
    {
        public readonly ConnectionTracker Tracker = new(new TrackerOptions { Application = ApplicationRows.None });
        public readonly StringWriter Said = new();
        private readonly DotnetAttacher _attacher;
        private readonly Tracer _tracer;

        public Joined(KestrelApp app, DotnetTarget? target = null)
        {
            _attacher = new DotnetAttacher(target ?? new DotnetTarget(true, app.Pid), [(ushort)app.Port], KernelRows, Tracker, Said) { RequestLinks = Tracker };
            _tracer = Tracer.Start(new TraceConfig([(ushort)app.Port], KernelRows), _attacher);
            _attacher.Start();
        }

        /// <summary>Pumps both sources, as trace's loop does, until <paramref name="done"/> (or the wait is over).</summary>
        public bool PumpUntil(Func<bool> done)
        {
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < Wait)
            {
                _tracer.Pump(TimeSpan.FromMilliseconds(50));
                _attacher.Pump(TimeSpan.Zero);
                if (done()) return true;
            }
            return false;
        }

        /// <summary>Pumps while <paramref name="work"/> (the clients) runs, and returns what it returned.</summary>
        public T PumpWhile<T>(Task<T> work)
        {
            PumpUntil(() => work.IsCompleted);
            return work.GetAwaiter().GetResult();
        }

        /// <summary>Pumps for a while: what the runtime still buffers comes in.</summary>
        public void PumpFor(TimeSpan time)
        {
            var sw = Stopwatch.StartNew();
            PumpUntil(() => sw.Elapsed >= time);
        }

        public void Dispose()
        {
            _attacher.Dispose();
            _tracer.Dispose();
        }
    }

    /// <summary>One keep-alive connection from the namespace (HTTP/1.1, one connection per client):
    /// its client port, and each answer of /ids in order.</summary>
    internal static async Task<(int Port, List<string> Ids)> KeepAliveClient(KestrelApp app, int requests)
    {
        int port = 0;
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1,
            ConnectCallback = async (context, ct) =>
            {
                var s = app.Ns.Client(AddressFamily.InterNetwork);
                await s.ConnectAsync(context.DnsEndPoint.Port == app.Port ? new IPEndPoint(IPAddress.Loopback, app.Port) : throw new InvalidOperationException(), ct);
                Interlocked.CompareExchange(ref port, ((IPEndPoint)s.LocalEndPoint!).Port, 0);
                return new NetworkStream(s, ownsSocket: true);
            },
        };
        using var http = new HttpClient(handler) { Timeout = Wait };
        var ids = new List<string>();
        for (int i = 0; i < requests; i++)
            ids.Add((await http.GetStringAsync($"http://127.0.0.1:{app.Port}/ids")).TrimEnd('\n'));
        return (port, ids);
    }

    private static ConnectionKey KeyOf(KestrelApp app, int clientPort)
    {
        var loopback = Address16.FromV4([127, 0, 0, 1]);
        return new ConnectionKey(app.Ns.Inode, loopback, (ushort)clientPort, loopback, (ushort)app.Port);
    }

    [Fact]
    public void Every_request_on_a_keep_alive_connection_is_joined_to_that_connection_by_its_own_span_ids()
    {
        Requirements.Check();
        using var ns = NetNamespace.Create();
        using var app = KestrelApp.Start(ns, Ports.Next(), otel: true);
        using var joined = new Joined(app);
        Assert.True(joined.PumpUntil(() => joined.Said.ToString().Contains($"tcpq: joined kestrel-app[{app.Pid}]")), joined.Said.ToString());
        Assert.Contains("its request spans, for the connections' spans", joined.Said.ToString());
        // the runtime turns the bridge on a little after the session started: a request a connection until one is joined
        int warmUps = 0;
        Assert.True(joined.PumpUntil(() =>
        {
            if (joined.Tracker.RequestLinks.Joined > 0) return true;
            if (warmUps < 50) { warmUps++; Assert.NotNull(app.Get("/ids")); }
            return false;
        }), "no request span was joined");
        joined.PumpFor(TimeSpan.FromSeconds(2)); // the warm-up's other spans, still on their way
        long before = joined.Tracker.RequestLinks.Joined;

        const int clients = 4, requests = 5;
        var connections = joined.PumpWhile(Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(() => KeepAliveClient(app, requests)))));
        Assert.True(joined.PumpUntil(() => joined.Tracker.RequestLinks.Joined >= before + clients * requests),
            $"joined {joined.Tracker.RequestLinks.Joined - before} of {clients * requests}");

        // the kernel saw one connection per client (and one per warm-up request, and the app's own start-up probe)
        Assert.Equal(1 + warmUps + clients, ns.Nstat().GetValueOrDefault("TcpPassiveOpens"));
        Assert.Equal(before + clients * requests, joined.Tracker.RequestLinks.Joined);
        Assert.Equal(0, joined.Tracker.RequestLinks.Unjoined);
        Assert.Equal(clients, connections.Select(c => c.Port).Distinct().Count());
        foreach (var (port, ids) in connections)
        {
            var t = joined.Tracker.Find(KeyOf(app, port));
            Assert.NotNull(t);
            Assert.True(t.Accepted, $"connection from :{port} not accepted");
            Assert.Equal((uint)app.Pid, t.Pid);
            // each request in its own trace, in the order the client sent them
            Assert.Equal(ids, t.RequestSpans!.Select(s => $"{s.TraceId} {s.SpanId}"));
            Assert.Equal(requests, ids.Select(i => i.Split(' ')[0]).Distinct().Count());
            Assert.All(t.RequestSpans!, s => Assert.InRange(s.StartNs, t.AcceptNs, joined.Tracker.NowNs + 60_000_000_000));
            // and they reach the connection's span, as its links
            var span = new ConnectionSpan();
            AppRequestLinks.CopyTo(t, span);
            Assert.Equal(ids, span.AppRequests.Select(l => $"{l.TraceId} {l.SpanId}"));
        }
    }

    [Fact]
    public void An_app_that_does_not_trace_gets_no_span_from_tcpq_and_no_link()
    {
        Requirements.Check();
        using var ns = NetNamespace.Create();
        using var app = KestrelApp.Start(ns, Ports.Next(), otel: false);
        using var joined = new Joined(app);
        Assert.True(joined.PumpUntil(() => joined.Said.ToString().Contains($"tcpq: joined kestrel-app[{app.Pid}]")), joined.Said.ToString());
        var (port, ids) = joined.PumpWhile(Task.Run(() => KeepAliveClient(app, requests: 20)));
        joined.PumpFor(TimeSpan.FromSeconds(2)); // what the runtime still buffers
        // the bridge asks for HttpRequestIn.Start only, not HttpRequestIn: ASP.NET Core makes no activity for it
        Assert.All(ids, id => Assert.Equal("none", id));
        Assert.Equal(0, joined.Tracker.RequestLinks.Joined + joined.Tracker.RequestLinks.Unjoined);
        Assert.NotNull(joined.Tracker.Find(KeyOf(app, port)));
    }

    [Fact]
    public void A_native_aot_app_gets_one_line_saying_its_request_spans_cannot_be_joined_and_its_kernel_rows()
    {
        Requirements.Check();
        string aot = KestrelAppAot.Binary;
        using var ns = NetNamespace.Create();
        using var app = KestrelApp.Start(ns, Ports.Next(), otel: true, binary: aot);
        Assert.DoesNotContain("libcoreclr.so", File.ReadAllText($"/proc/{app.Pid}/maps"));
        Assert.NotEmpty(Directory.GetFileSystemEntries("/tmp", $"dotnet-diagnostic-{app.Pid}-*-socket"));
        using var joined = new Joined(app, DotnetTarget.Auto); // the default: found by its accept rows
        var (port, ids) = joined.PumpWhile(Task.Run(() => KeepAliveClient(app, requests: 3)));
        Assert.All(ids, id => Assert.Matches("^[0-9a-f]{32} [0-9a-f]{16}$", id)); // it traces its requests
        string line = $"tcpq: kestrel-app[{app.Pid}] is a Native AOT .NET app: its request spans cannot be joined to its connections " +
            "(the DiagnosticSource bridge fetches HttpContext.Connection by reflection, which Native AOT removes); kernel rows only";
        Assert.True(joined.PumpUntil(() => joined.Said.ToString().Contains(line)), joined.Said.ToString());
        joined.PumpFor(TimeSpan.FromSeconds(1));
        Assert.Equal([line], joined.Said.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var t = joined.Tracker.Find(KeyOf(app, port));
        Assert.True(t is { Accepted: true } && t.Pid == (uint)app.Pid, "its connection, accepted, in the kernel's rows");
        Assert.Null(t.RequestSpans);
        Assert.Equal(0, joined.Tracker.RequestLinks.Joined + joined.Tracker.RequestLinks.Unjoined);
    }
}
