using System.Diagnostics;
using OpenTelemetry.Exporter;
using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Spans;

// bench/spans URL [N]: CPU per connection of (1) ConnectionActivities alone, to a listener that
// keeps nothing, and (2) ConnectionSpanExporter sending to URL (bench/lib/otlp_sink.py), paced at
// about 50,000 connections a second, as connload makes them; (3) the same through
// ConnectionSpanHandoff, as trace runs it (the spans made on a thread of their own). A connection as connload's: its
// handshake and its accept-queue wait, 3 spans.
if (args.Length < 1) { Console.Error.WriteLine("usage: bench/spans OTLP_HTTP_URL [CONNECTIONS]"); return 2; }
int n = args.Length > 1 ? int.Parse(args[1]) : 300_000;
var clock = new WallClock(DateTime.UtcNow, 1_000_000_000_000);
var spans = Enumerable.Range(0, 1000).Select(Connection).ToArray();

using (var source = new ActivitySource("tcpq.bench"))
using (var listener = new ActivityListener { ShouldListenTo = s => s == source, Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded })
{
    ActivitySource.AddActivityListener(listener);
    for (int i = 0; i < 20_000; i++) ConnectionActivities.Emit(source, spans[i % spans.Length], clock); // warm
    var cpu = Environment.CpuUsage.TotalTime;
    for (int i = 0; i < n; i++) ConnectionActivities.Emit(source, spans[i % spans.Length], clock);
    Console.WriteLine($"activities only:    {(Environment.CpuUsage.TotalTime - cpu).TotalMicroseconds / n:F2} µs CPU per connection");
}

var otlp = new OtlpExporterOptions { Endpoint = new Uri(args[0]), Protocol = OtlpExportProtocol.HttpProtobuf };
using (var exporter = new ConnectionSpanExporter(otlp, clock))
{
    var cpu = Environment.CpuUsage.TotalTime;
    for (int i = 0; i < n; i++)
    {
        exporter.Write(spans[i % spans.Length]);
        if (i % 500 == 499) Thread.Sleep(10);
    }
    exporter.Shutdown(TimeSpan.FromSeconds(60));
    Console.WriteLine($"exporter, all of it: {(Environment.CpuUsage.TotalTime - cpu).TotalMicroseconds / n:F2} µs CPU per connection " +
        $"(sent {exporter.ConnectionsSent}, left out {exporter.ConnectionsDropped}, {exporter.SpansExported} spans taken)");
}
// (3) as trace runs it: the reader's thread only copies each connection into the handoff, the
// spans' thread makes and sends them
using (var exporter = new ConnectionSpanExporter(otlp, clock))
{
    var limits = new SpanExportLimits();
    var handoff = new ConnectionSpanHandoff(exporter, limits.HandoffSlots, limits.HandoffWake);
    var cpu = Environment.CpuUsage.TotalTime;
    for (int i = 0; i < n; i++)
    {
        handoff.Write(spans[i % spans.Length]);
        if (i % 500 == 499) Thread.Sleep(10);
    }
    handoff.Complete(TimeSpan.FromSeconds(60));
    exporter.Shutdown(TimeSpan.FromSeconds(60));
    Console.WriteLine($"through the handoff: {(Environment.CpuUsage.TotalTime - cpu).TotalMicroseconds / n:F2} µs CPU per connection " +
        $"(handed {handoff.Handed}, left out {handoff.Dropped + exporter.ConnectionsDropped}, {exporter.SpansExported} spans taken)");
    handoff.Dispose();
}
return 0;

static ConnectionSpan Connection(int i)
{
    var e = new TcpqEvent { SourcePort = (ushort)(1024 + i), DestPort = 9110, NetNs = 4026531840 };
    Span<byte> a = e.SourceAddress;
    a[10] = a[11] = 0xff; a[12] = 127; a[15] = 1; // 127.0.0.1, IPv4-mapped as the kernel side stores it
    e.DestAddress = e.SourceAddress;
    ulong syn = 1_000_000_000_000UL + (ulong)i * 10_000;
    return new ConnectionSpan
    {
        Key = ConnectionKey.Of(e), FirstSynNs = syn, EstablishedNs = syn + 20_000, AcceptNs = syn + 520_000, EndNs = syn + 521_000,
        Pid = 42, Comm = "connload", Attempts = 1,
    };
}
