using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Micro;

/// <summary>
/// The per-event path of <c>tcpq trace</c>: a 104-byte ring buffer record read as
/// <see cref="TcpqEvent"/> (by reference, as Tracer.OnSample does, or copied with
/// MemoryMarshal.Read) and formatted into a writer over Stream.Null, flushed every
/// <see cref="Batch"/> events as the poll loop does after each batch. One op = one event.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public unsafe class HotPathBenchmarks
{
    private const int Records = 1024;   // distinct records, cycled
    private const int Batch = 64;       // events between flushes
    private const int PerInvoke = 4096;

    private byte[] _ring = null!;       // Records × 104 bytes, as the kernel writes them
    private IEventWriter _csv = null!, _json = null!, _seed = null!;
    private ConnectionTracker _tracker = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _ring = new byte[Records * TcpqEvent.Size];
        var rnd = new Random(5);
        for (int i = 0; i < Records; i++)
        {
            var e = Sample(i, rnd);
            MemoryMarshal.Write(_ring.AsSpan(i * TcpqEvent.Size, TcpqEvent.Size), in e);
        }
        var reasons = new DropReasons(new Dictionary<uint, string> { [2] = "SKB_DROP_REASON_NOT_SPECIFIED", [77] = "SKB_DROP_REASON_TCP_LISTEN_OVERFLOW" });
        var context = new EventContext(new WallClock(new DateTime(2026, 11, 27, 2, 53, 41, DateTimeKind.Utc), 1_540_000_000_000), reasons);
        _csv = new CsvEventWriter(Stream.Null, context);
        _json = new JsonEventWriter(Stream.Null, context);
        _seed = new SeedEventWriter(Stream.Null, context);
        _tracker = new ConnectionTracker();
        // warm every path (and the tracker's table) once
        for (int i = 0; i < Records; i++)
        {
            ref readonly var e = ref Record(i);
            _csv.Write(in e); _json.Write(in e); _seed.Write(in e); _tracker.OnEvent(in e);
        }
        _csv.Flush(); _json.Flush(); _seed.Flush();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _csv.Dispose(); _json.Dispose(); _seed.Dispose();
    }

    /// <summary>syn, syn-aa and accept of one connection (the common case), with some drops,
    /// retransmits and aborts; IPv4 mostly, every 8th connection IPv6.</summary>
    private static TcpqEvent Sample(int i, Random rnd)
    {
        int conn = i / 3;
        var e = new TcpqEvent
        {
            TsNs = 1_540_744_707_955UL + (ulong)i * 31_000,
            NetNs = 4026531840,
            SourcePort = (ushort)(32768 + conn % 28000),
            DestPort = 9100,
        };
        bool v6 = conn % 8 == 7;
        if (v6)
        {
            e.SourceAddress[0] = 0xfd; e.SourceAddress[15] = (byte)conn;
            e.DestAddress[0] = 0xfd; e.DestAddress[15] = 1;
        }
        else
        {
            e.SourceAddress[10] = 0xff; e.SourceAddress[11] = 0xff;
            e.SourceAddress[12] = 10; e.SourceAddress[13] = (byte)(conn >> 8); e.SourceAddress[14] = (byte)conn; e.SourceAddress[15] = 1;
            e.DestAddress[10] = 0xff; e.DestAddress[11] = 0xff;
            e.DestAddress[12] = 127; e.DestAddress[15] = 1;
        }
        switch (i % 3)
        {
            case 0:
                e.Kind = EventKind.Syn; e.Flags = EventFlags.Queues | EventFlags.Attempt;
                e.Q0 = (uint)rnd.Next(0, 4); e.Q = (uint)rnd.Next(0, 10); e.QMax = 4096; e.Attempt = 1;
                if (conn % 50 == 0) { e.Kind = EventKind.SynDrop; e.Reason = DropReasons.AcceptQueueFull; }
                if (conn % 97 == 0) { e.Kind = EventKind.SynDrop; e.Reason = 77; }
                break;
            case 1:
                e.Kind = EventKind.SynAa; e.Flags = EventFlags.Queues | EventFlags.Attempt | EventFlags.Wait;
                e.Q0 = 1; e.Q = (uint)rnd.Next(0, 10); e.QMax = 4096; e.Attempt = 1; e.WaitNs = (ulong)rnd.Next(20_000, 90_000);
                if (conn % 100 == 1) { e.Kind = EventKind.SynAckRetrans; e.Attempt = 1; }
                break;
            default:
                e.Kind = EventKind.Accept; e.Flags = EventFlags.Task | EventFlags.Wait | EventFlags.Attempt;
                e.Attempt = 1; e.WaitNs = (ulong)rnd.Next(1_000, 3_000_000); e.Pid = 14034;
                "connload"u8.CopyTo(e.Comm);
                if (conn % 100 == 2) { e.Kind = EventKind.Abort; e.Flags = EventFlags.Wait; e.Reason = DropReasons.PeerReset; }
                break;
        }
        return e;
    }

    private ref readonly TcpqEvent Record(int i)
    {
        fixed (byte* p = _ring)
            return ref *(TcpqEvent*)(p + i * TcpqEvent.Size);
    }

    private void Run(IEventWriter writer)
    {
        fixed (byte* ring = _ring)
        {
            int next = _next;
            for (int n = 0; n < PerInvoke; n++)
            {
                // as Tracer.OnSample: the record in place, by reference, no copy
                writer.Write(in *(TcpqEvent*)(ring + next * TcpqEvent.Size));
                if (++next == Records) next = 0;
                if ((n & (Batch - 1)) == Batch - 1) writer.Flush();
            }
            _next = next;
        }
    }

    [Benchmark(OperationsPerInvoke = PerInvoke, Description = "decode (MemoryMarshal.Read, copy)")]
    public ulong Decode()
    {
        ulong sum = 0;
        var ring = _ring.AsSpan();
        int next = _next;
        for (int n = 0; n < PerInvoke; n++)
        {
            var e = MemoryMarshal.Read<TcpqEvent>(ring.Slice(next * TcpqEvent.Size, TcpqEvent.Size));
            sum += e.TsNs + e.SourcePort + (ulong)e.Kind;
            if (++next == Records) next = 0;
        }
        _next = next;
        return sum;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = PerInvoke, Description = "record -> csv row")]
    public void Csv() => Run(_csv);

    [Benchmark(OperationsPerInvoke = PerInvoke, Description = "record -> json row")]
    public void Json() => Run(_json);

    [Benchmark(OperationsPerInvoke = PerInvoke, Description = "record -> seed row")]
    public void Seed() => Run(_seed);

    [Benchmark(OperationsPerInvoke = PerInvoke, Description = "record -> tracker (--summary)")]
    public void Tracker()
    {
        fixed (byte* ring = _ring)
        {
            int next = _next;
            for (int n = 0; n < PerInvoke; n++)
            {
                _tracker.OnEvent(in *(TcpqEvent*)(ring + next * TcpqEvent.Size));
                if (++next == Records)
                {
                    next = 0;
                    // time moves on: the next cycle's connections are new ones, later
                    for (int i = 0; i < Records; i++) ((TcpqEvent*)ring)[i].TsNs += Records * 31_000UL;
                }
            }
            _next = next;
        }
    }
}
