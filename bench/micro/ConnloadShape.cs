using Tcpq.Events;

namespace Tcpq.Micro;

/// <summary>A stream shaped like connload's under <c>tcpq trace</c>, for when no recording is at
/// hand: 8 clients connecting as fast as they can with a window of 2,048 queued connections, each
/// closing with a reset (so its port is free at once: the kernel hands ports out again within a
/// second, well inside the tracker's 2 s linger); per connection syn, syn-aa, abort, accept.</summary>
internal static class ConnloadShape
{
    public static void Fill(IEventSink sink, int events)
    {
        const int Window = 2048;
        const ulong Gap = 17_000; // ns between connections: ~58k/s, the recorded rate
        var queued = new Queue<(ushort Port, ulong EstablishedNs)>();
        ulong now = 1_000_000_000;
        int made = 0, next = 0;
        while (made < events)
        {
            ushort port = (ushort)(32768 + (next++ * 7919) % 28232); // the kernel's ephemeral range, in a scattered order
            var e = Base(port, now);
            e.Kind = EventKind.Syn; e.Flags = EventFlags.Queues | EventFlags.Attempt; e.Attempt = 1;
            e.Q0 = 0; e.Q = (uint)queued.Count; e.QMax = 4096;
            sink.OnEvent(e); made++;
            e.TsNs = now + 9_000; e.Kind = EventKind.SynAa; e.Flags |= EventFlags.Wait; e.WaitNs = 9_000; e.Q0 = 1;
            sink.OnEvent(e); made++;
            e = Base(port, now + 12_000); e.Kind = EventKind.Abort; e.Flags = EventFlags.Wait; e.WaitNs = 3_000; e.Reason = DropReasons.PeerReset;
            sink.OnEvent(e); made++;
            queued.Enqueue((port, now + 9_000));
            if (queued.Count >= Window)
            {
                var (p, est) = queued.Dequeue();
                var a = Base(p, now + 15_000);
                a.Kind = EventKind.Accept; a.Flags = EventFlags.Task | EventFlags.Wait | EventFlags.Attempt; a.Attempt = 1;
                a.WaitNs = now + 15_000 - est; a.Pid = 4242; "connload"u8.CopyTo(a.Comm);
                sink.OnEvent(a); made++;
            }
            now += Gap;
        }
    }

    private static TcpqEvent Base(ushort sourcePort, ulong ts)
    {
        var e = new TcpqEvent { TsNs = ts, NetNs = 4026532000, SourcePort = sourcePort, DestPort = 9110 };
        e.SourceAddress[10] = 0xff; e.SourceAddress[11] = 0xff; e.SourceAddress[12] = 127; e.SourceAddress[15] = 1;
        e.DestAddress[10] = 0xff; e.DestAddress[11] = 0xff; e.DestAddress[12] = 127; e.DestAddress[15] = 1;
        return e;
    }
}
