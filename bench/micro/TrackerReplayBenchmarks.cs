using BenchmarkDotNet.Attributes;
using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Output;
using Tcpq.Report;

namespace Tcpq.Micro;

/// <summary>
/// The tracker (<c>trace --summary</c>, <c>report</c>) fed a recorded stream of a million events,
/// against the csv writer fed the same stream. The stream is what <c>bench/micro/record-stream</c>
/// saved of a saturating connload run (clients that reuse their ports within the tracker's linger
/// time, as real loads do): <c>TCPQ_MICRO_STREAM</c> names it, default /tmp/tcpq-micro-stream.csv.
/// Without it, a stream of the same shape is made up here (and said so): the guard against a
/// tracker whose cost per event grows with the connections it holds (issue 19: a reconnect from a
/// held 4-tuple cost 64 lookups). One op = one event.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class TrackerReplayBenchmarks
{
    private const int Events = 1_000_000;
    private TcpqEvent[] _events = null!;
    private IEventWriter _csv = null!;

    [GlobalSetup]
    public void Setup()
    {
        string path = Environment.GetEnvironmentVariable("TCPQ_MICRO_STREAM") ?? "/tmp/tcpq-micro-stream.csv";
        var sink = new Collect(Events);
        if (File.Exists(path))
        {
            using var file = File.OpenRead(path);
            TraceReader.Read(file, path, sink);
            Console.WriteLine($"// stream: {sink.Count:N0} events recorded in {path}");
        }
        else
        {
            ConnloadShape.Fill(sink, Events);
            Console.WriteLine($"// stream: no recording at {path} (bench/micro/record-stream makes one): {sink.Count:N0} events made up in connload's shape");
        }
        _events = sink.Events[..sink.Count];
        var reasons = new DropReasons(new Dictionary<uint, string> { [2] = "SKB_DROP_REASON_NOT_SPECIFIED" });
        _csv = new CsvEventWriter(Stream.Null, new EventContext(new WallClock(DateTime.UnixEpoch, 0), reasons));
    }

    [GlobalCleanup]
    public void Cleanup() => _csv.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Events, Description = "recorded stream -> csv rows")]
    public void Csv()
    {
        var events = _events;
        for (int i = 0; i < events.Length; i++)
        {
            _csv.Write(in events[i]);
            if ((i & 63) == 63) _csv.Flush();
        }
        _csv.Flush();
    }

    [Benchmark(OperationsPerInvoke = Events, Description = "recorded stream -> tracker (--summary)")]
    public int Tracker()
    {
        var tracker = new ConnectionTracker();
        var events = _events;
        for (int i = 0; i < events.Length; i++) tracker.OnEvent(in events[i]);
        tracker.Complete();
        return tracker.Following;
    }

    private sealed class Collect(int capacity) : IEventSink
    {
        public readonly TcpqEvent[] Events = new TcpqEvent[capacity];
        public int Count;
        public void OnEvent(in TcpqEvent e)
        {
            if (Count < Events.Length) Events[Count++] = e;
        }
    }
}
