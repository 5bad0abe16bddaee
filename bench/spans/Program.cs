using System.Reflection;
using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Spans;

// bench/spans URL [N]: CPU per connection of trace --otlp-endpoint's spans in user space: (1) the
// OTLP encoder alone (ConnectionSpan → protobuf in its reused buffer); (2) the exporter as trace
// runs it, sending to URL (bench/lib/otlp_sink.py) over OTLP/HTTP: the caller copies each
// connection into the handoff, the spans' thread (nice 10) encodes and sends, paced at about
// 50,000 connections a second, as connload makes them. A connection as connload's: its handshake
// and its accept-queue wait, 3 spans.
if (args.Length < 1) { Console.Error.WriteLine("usage: bench/spans OTLP_HTTP_URL [CONNECTIONS]"); return 2; }
int n = args.Length > 1 ? int.Parse(args[1]) : 300_000;
var clock = new WallClock(DateTime.UtcNow, 1_000_000_000_000);
var spans = Enumerable.Range(0, 1000).Select(Connection).ToArray();

{
    // the encoder is internal to tcpq: made through reflection, called through a delegate
    var type = typeof(ConnectionSpanExporter).Assembly.GetType("Tcpq.Spans.OtlpTraceEncoder")!;
    var encoder = Activator.CreateInstance(type, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance, null,
        [clock, "tcpq", "1.0.0", "bench", "host", 1 << 20], null)!;
    var add = type.GetMethod("Add")!.CreateDelegate<Func<ConnectionSpan, int>>(encoder);
    var clear = type.GetMethod("Clear")!.CreateDelegate<Action>(encoder);
    var bytes = (Func<int>)type.GetProperty("Bytes")!.GetMethod!.CreateDelegate(typeof(Func<int>), encoder);
    void Encode(int count)
    {
        for (int i = 0; i < count; i++)
        {
            add(spans[i % spans.Length]);
            if (bytes() >= 1 << 20) clear();
        }
    }
    Encode(20_000); // warm
    var cpu = Environment.CpuUsage.TotalTime;
    long allocated = GC.GetAllocatedBytesForCurrentThread();
    Encode(n);
    Console.WriteLine($"encoder only:        {(Environment.CpuUsage.TotalTime - cpu).TotalMicroseconds / n:F2} µs CPU per connection, " +
        $"{(GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)n:F1} bytes allocated per connection");
}

var endpoint = new OtlpTraceEndpoint(new Uri(args[0]), Grpc: false, [], Gzip: false, OtlpTraceEndpoint.DefaultTimeout);
using (var exporter = new ConnectionSpanExporter(endpoint, clock))
{
    var cpu = Environment.CpuUsage.TotalTime;
    for (int i = 0; i < n; i++)
    {
        exporter.Write(spans[i % spans.Length]);
        if (i % 500 == 499) Thread.Sleep(10);
    }
    exporter.Complete(TimeSpan.FromSeconds(60));
    Console.WriteLine($"exporter, all of it: {(Environment.CpuUsage.TotalTime - cpu).TotalMicroseconds / n:F2} µs CPU per connection " +
        $"(sent {exporter.ConnectionsSent}, left out {exporter.ConnectionsDropped}, {exporter.SpansExported} spans taken)");
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
