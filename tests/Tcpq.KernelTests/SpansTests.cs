using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>One Aspire dashboard for the span tests of a run: each test tells its traces apart by
/// the network namespace it made (tcpq.netns).</summary>
public sealed class DashboardFixture : IDisposable
{
    private readonly Lazy<AspireDashboard> _dashboard = new(() => AspireDashboard.Start());
    public AspireDashboard Dashboard => _dashboard.Value;
    public void Dispose() { if (_dashboard.IsValueCreated) _dashboard.Value.Dispose(); }
}

/// <summary>
/// <c>tcpq trace --otlp-endpoint</c> (the shipped Native AOT binary) sending real connections in a
/// namespace to a real backend, the Aspire dashboard, and what the dashboard stored read back
/// through its telemetry API: one trace per connection with OpenTelemetry's attributes, the waits'
/// spans as long as the server made them, drops and retries as events, an abort as an error, over
/// OTLP/HTTP and OTLP/gRPC; serve's metrics push over both; the OTEL_EXPORTER_OTLP_* variables.
/// </summary>
public class SpansTests(DashboardFixture fixture) : IClassFixture<DashboardFixture>
{
    private static readonly TimeSpan Stored = TimeSpan.FromSeconds(20);
    private AspireDashboard Dashboard => fixture.Dashboard;

    private string Endpoint(string protocol) => protocol == "grpc" ? Dashboard.OtlpGrpc : Dashboard.OtlpHttp;

    /// <summary>A client that connects, sends a request and reads the answer; the server accepts,
    /// reads, answers, and both close. Returns the client's port.</summary>
    private static int Exchange(NetNamespace ns, Socket listener, int port)
    {
        using var client = ns.Client(AddressFamily.InterNetwork);
        client.Connect(new IPEndPoint(IPAddress.Loopback, port));
        client.Send("GET / HTTP/1.0\r\n\r\n"u8);
        using var server = listener.Accept();
        var buffer = new byte[256];
        Assert.True(server.Receive(buffer) > 0);
        server.Send("HTTP/1.0 200 OK\r\n\r\nok"u8);
        Assert.True(client.Receive(buffer) > 0);
        return ((IPEndPoint)client.LocalEndPoint!).Port;
    }

    [Theory]
    [InlineData("http", false)]
    [InlineData("grpc", false)]
    [InlineData("grpc", true)] // the backend's gRPC server takes gzip requests (its OTLP/HTTP does not)
    public void Each_connection_is_one_trace_with_opentelemetrys_attributes_and_a_span_for_each_wait(string protocol, bool gzip)
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 16);
        using var tcpq = TcpqTrace.Start(["-p", port.ToString(), "-e", "all", "--otlp-endpoint", Endpoint(protocol), "--otlp-protocol", protocol],
            environment: gzip ? new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_COMPRESSION"] = "gzip" } : null);
        var before = ns.Nstat();
        var clientPorts = Enumerable.Range(0, 5).Select(_ => Exchange(ns, listener, port)).ToHashSet();
        var after = ns.Nstat();
        Thread.Sleep(300); // the last close rows
        Assert.Equal(0, tcpq.Stop());
        long opened = after["TcpPassiveOpens"] - before.GetValueOrDefault("TcpPassiveOpens");
        Assert.Equal(5, opened);
        Assert.Contains(tcpq.Stderr, l => l.StartsWith("tcpq: 5 connections sent as traces to ", StringComparison.Ordinal) && l.Contains("(25 spans taken)"));
        Assert.Equal(gzip, tcpq.Stderr.Any(l => l.StartsWith("tcpq: sending each connection as a trace to ", StringComparison.Ordinal) && l.Contains(", gzip)")));

        var traces = Dashboard.WaitForTraces(ns.Inode, port, t => t.Count >= opened && t.Sum(x => x.Spans.Count) >= 25, Stored);
        Assert.Equal(opened, traces.Count); // one trace per connection the kernel opened
        Assert.Equal(clientPorts, traces.Select(t => int.Parse(t.Root!.Attributes["client.port"])).ToHashSet());
        foreach (var t in traces)
        {
            var root = t.Root!;
            Assert.Equal(("tcpq", $"connection :{port}", 2), (root.Service, root.Name, root.Kind)); // SPAN_KIND_SERVER
            var a = root.Attributes;
            Assert.Equal(("127.0.0.1", port.ToString(), "127.0.0.1"), (a["server.address"], a["server.port"], a["client.address"]));
            Assert.Equal(("ipv4", "tcp"), (a["network.type"], a["network.transport"]));
            Assert.Equal(Environment.ProcessId.ToString(), a["process.pid"]); // this test accepted
            Assert.True(a.ContainsKey("process.executable.name"));
            Assert.Equal(0, root.StatusCode);
            Assert.Equal(5, t.Spans.Count);
            foreach (var name in new[] { "handshake", "accept-queue wait", "accept to first read", "first read to first write" })
            {
                var child = t.Child(name);
                Assert.True(child is not null, $"no {name} span in {t.TraceId}");
                Assert.Equal(root.SpanId, child.ParentSpanId);
                Assert.InRange(child.StartNs, root.StartNs, root.EndNs);
                Assert.InRange(child.EndNs, child.StartNs, root.EndNs);
            }
            // the waits follow one another: the handshake ends where the queue wait begins, and so on
            Assert.Equal(t.Child("handshake")!.EndNs, t.Child("accept-queue wait")!.StartNs);
            Assert.Equal(t.Child("accept-queue wait")!.EndNs, t.Child("accept to first read")!.StartNs);
            Assert.Equal(t.Child("accept to first read")!.EndNs, t.Child("first read to first write")!.StartNs);
        }
    }

    [Fact]
    public void A_server_that_accepts_300_ms_late_makes_300_ms_queue_waits_and_a_dropped_client_shows_its_drops_and_retries()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 1);
        using var tcpq = TcpqTrace.Start(["-p", port.ToString(), "--otlp-endpoint", Dashboard.OtlpHttp]);
        var before = ns.Nstat();
        // backlog 1: the first two clients wait in the accept queue (Linux admits Qmax + 1), the
        // third's SYN is dropped (accept-queue-full) until its retry 1 s later finds room
        var clients = new List<Socket>();
        for (int i = 0; i < 3; i++)
        {
            clients.Add(ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port)));
            Thread.Sleep(30);
        }
        Thread.Sleep(300);
        var accepted = new List<Socket> { listener.Accept(), listener.Accept() };
        listener.Blocking = false;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(8);
        while (accepted.Count < 3 && DateTime.UtcNow < until)
        {
            try { accepted.Add(listener.Accept()); }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock) { Thread.Sleep(5); }
        }
        var after = ns.Nstat();
        foreach (var s in accepted.Concat(clients)) s.Dispose();
        Assert.Equal(3, accepted.Count);
        Assert.Equal(0, tcpq.Stop());
        long drops = after.GetValueOrDefault("TcpExtListenDrops") - before.GetValueOrDefault("TcpExtListenDrops");
        Assert.True(drops >= 1, "the third client should have been dropped");

        var traces = Dashboard.WaitForTraces(ns.Inode, port, t => t.Count >= 3 && t.Sum(x => x.Spans.Count) >= 9, Stored);
        Assert.Equal(3, traces.Count);
        var waits = traces.Select(t => t.Child("accept-queue wait")!.Duration).Order().ToList();
        // the two queued clients waited from their handshake to the late accept: 300 ms at least,
        // the scheduler's delay of a loaded 2-CPU machine at most above it
        Assert.All(waits.Skip(1), w => Assert.InRange(w.TotalMilliseconds, 300, 300 + 400));
        var dropped = Assert.Single(traces, t => t.Root!.Events.Any(e => e.Name == "syn-drop"));
        var events = dropped.Root!.Events;
        Assert.Equal(drops, events.Count(e => e.Name == "syn-drop")); // every drop nstat counted, on the one client dropped
        Assert.All(events.Where(e => e.Name == "syn-drop"), e => Assert.Equal("accept-queue-full", e.Attributes["tcpq.reason"]));
        Assert.Contains(events, e => e.Name == "syn-retry" && e.Attributes["tcpq.attempt"] == "2");
        Assert.InRange(dropped.Child("handshake")!.Duration.TotalMilliseconds, 900, 3500); // its first SYN to its handshake: the retry's 1 s or more
        Assert.Equal((drops + 1).ToString(), dropped.Root.Attributes["tcpq.syn.attempts"]);
    }

    [Fact]
    public void A_connection_reset_in_the_accept_queue_is_an_error_span()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        using var tcpq = TcpqTrace.Start(["-p", port.ToString(), "--otlp-endpoint", Dashboard.OtlpGrpc, "--otlp-protocol", "grpc"]);
        var client = ns.Client(AddressFamily.InterNetwork);
        client.Connect(new IPEndPoint(IPAddress.Loopback, port));
        client.LingerState = new LingerOption(true, 0); // close sends a reset
        client.Close();
        Thread.Sleep(300);
        Assert.Equal(0, tcpq.Stop());

        var trace = Assert.Single(Dashboard.WaitForTraces(ns.Inode, port, t => t.Count >= 1, Stored));
        var root = trace.Root!;
        Assert.Equal((2, "peer-reset"), (root.StatusCode, root.StatusMessage)); // STATUS_CODE_ERROR
        Assert.Equal("peer-reset", root.Attributes["error.type"]);
        Assert.Contains(root.Events, e => e.Name == "abort" && e.Attributes["tcpq.reason"] == "peer-reset");
        Assert.NotNull(trace.Child("handshake"));
        Assert.Null(trace.Child("accept-queue wait")); // never accepted
    }

    [Theory]
    [InlineData("http")]
    [InlineData("grpc")]
    public void Serve_pushes_its_metrics_to_the_dashboard(string protocol)
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        var known = Dashboard.Resources().Select(r => r.Instance).ToHashSet();
        using var serve = TcpqServe.Start("-p", port.ToString(), "--otlp-endpoint", Endpoint(protocol), "--otlp-protocol", protocol, "--otlp-interval", "1");
        Exchange(ns, listener, port);
        var pushed = WaitForNewResource(Dashboard, known, r => r.HasMetrics);
        Assert.True(pushed is not null, $"no new resource with metrics: {string.Join(", ", Dashboard.Resources())}; serve said {string.Join(" | ", serve.Stderr)}");
        Assert.Equal("tcpq", pushed.Value.Name);
    }

    [Fact]
    public void The_standard_variables_name_the_endpoint_the_protocol_and_the_headers_a_backend_asks_for()
    {
        const string key = "tcpq key/1";
        using var secured = AspireDashboard.Start(otlpApiKey: key);
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        var env = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = secured.OtlpGrpc,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc",
            ["OTEL_EXPORTER_OTLP_HEADERS"] = "x-otlp-api-key=wrong-s3cret",
        };

        // a wrong key: the backend refuses, tcpq says so without the key
        using (var refused = TcpqTrace.Start(["-p", port.ToString()], environment: env))
        {
            Exchange(ns, listener, port);
            Assert.Equal(0, refused.Stop());
            Assert.Contains(refused.Stderr, l => l.Contains($"to {secured.OtlpGrpc}/ (OTLP/gRPC, from OTEL_EXPORTER_OTLP_ENDPOINT)"));
            var end = Assert.Single(refused.Stderr, l => l.Contains("sent as traces"));
            Assert.Contains("1 connection sent as traces", end);
            Assert.Contains("0 spans taken, 3 not: the collector answered 401 Unauthorized", end);
            Assert.DoesNotContain(refused.Stderr, l => l.Contains("s3cret"));
        }
        Assert.Empty(secured.TracesOf(ns.Inode, port));

        // the right key, percent-encoded as the specification writes header values
        env["OTEL_EXPORTER_OTLP_HEADERS"] = "x-otlp-api-key=" + Uri.EscapeDataString(key);
        int client;
        using (var taken = TcpqTrace.Start(["-p", port.ToString()], environment: env))
        {
            client = Exchange(ns, listener, port);
            Assert.Equal(0, taken.Stop());
        }
        var trace = Assert.Single(secured.WaitForTraces(ns.Inode, port, t => t.Count >= 1, Stored));
        Assert.Equal(client.ToString(), trace.Root!.Attributes["client.port"]);

        // serve's metrics push reads the same variables (OTLP/HTTP here)
        var known = secured.Resources().Select(r => r.Instance).ToHashSet();
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = secured.OtlpHttp;
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
        using var serve = TcpqServe.StartWith(env, "-p", port.ToString(), "--otlp-interval", "1");
        Assert.NotNull(WaitForNewResource(secured, known, r => r.HasMetrics));
    }

    private static (string Instance, string Name, bool HasTraces, bool HasMetrics)? WaitForNewResource(
        AspireDashboard dashboard, HashSet<string> known, Func<(string Instance, string Name, bool HasTraces, bool HasMetrics), bool> wanted)
    {
        var until = DateTime.UtcNow + Stored;
        while (DateTime.UtcNow < until)
        {
            foreach (var r in dashboard.Resources())
                if (!known.Contains(r.Instance) && wanted(r)) return r;
            Thread.Sleep(250);
        }
        return null;
    }

    /// <summary>The whole way, as a user runs it: a real ASP.NET Core app traced with OpenTelemetry,
    /// `tcpq trace --otlp-endpoint` joined to it (--dotnet PID), keep-alive clients making several
    /// requests per connection. In the dashboard, each connection's span links exactly the request
    /// spans that came on it (the ids each request answered with, from its own Activity.Current).</summary>
    [Fact]
    public async Task A_dotnet_apps_request_spans_are_the_links_of_the_connection_span_that_carried_them()
    {
        using var ns = NetNamespace.Create();
        using var app = KestrelApp.Start(ns, Ports.Next(), otel: true);
        using var tcpq = TcpqTrace.Start(["-p", app.Port.ToString(), "-e", "all", "--dotnet", app.Pid.ToString(), "--otlp-endpoint", Dashboard.OtlpHttp]);
        var joined = Stopwatch.StartNew();
        while (!tcpq.Stderr.Any(l => l.Contains($"joined kestrel-app[{app.Pid}]", StringComparison.Ordinal)) && joined.Elapsed < Stored) Thread.Sleep(100);
        Assert.Contains(tcpq.Stderr, l => l.Contains($"joined kestrel-app[{app.Pid}]", StringComparison.Ordinal));

        // the runtime turns the DiagnosticSource bridge on a little after the session starts: one
        // connection of one request at a time until a connection's span carries its link
        bool linked = false;
        for (int warmUp = 0; warmUp < 20 && !linked; warmUp++)
        {
            var (port, _) = await DotnetSpansTests.KeepAliveClient(app, requests: 1);
            var t = Dashboard.WaitForTraces(ns.Inode, app.Port, ts => ts.Any(x => x.Root!.Attributes.GetValueOrDefault("client.port") == port.ToString()), TimeSpan.FromSeconds(5));
            linked = t.Any(x => x.Root!.Attributes.GetValueOrDefault("client.port") == port.ToString() && x.Root.Links.Count > 0);
        }
        Assert.True(linked, "no connection span got a link: " + string.Join(" | ", tcpq.Stderr));

        const int clients = 3, requests = 4;
        var connections = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(() => DotnetSpansTests.KeepAliveClient(app, requests))));
        Thread.Sleep(500); // the last close rows, and what the app's runtime still buffers
        Assert.Equal(0, tcpq.Stop());
        var ports = connections.Select(c => c.Port.ToString()).ToHashSet();
        var traces = Dashboard.WaitForTraces(ns.Inode, app.Port, ts => ports.All(p => ts.Any(x => x.Root!.Attributes.GetValueOrDefault("client.port") == p)), Stored);
        foreach (var (port, ids) in connections)
        {
            var root = Assert.Single(traces, x => x.Root!.Attributes.GetValueOrDefault("client.port") == port.ToString()).Root!;
            Assert.Equal(app.Pid.ToString(), root.Attributes["process.pid"]);
            // each request its own trace, linked from the connection in the order the client sent them
            Assert.Equal(ids, root.Links.Select(l => $"{l.TraceId} {l.SpanId}"));
            Assert.Equal(requests, ids.Select(i => i.Split(' ')[0]).Distinct().Count());
        }
    }
}
