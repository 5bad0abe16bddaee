using Tcpq.Connections.Diagnosis;
using System.Net;
using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Tests;

/// <summary>Builds event sequences as the kernel side would emit them, for one listener,
/// with times in milliseconds from the start, and summarises them.</summary>
internal sealed class Scenario(ushort port = 2000, uint netns = 4026531840, string listener = "127.0.0.1")
{
    public const ulong Start = 1_000_000_000_000;
    public readonly List<TcpqEvent> Events = [];

    public static ulong Ms(double ms) => Start + (ulong)(ms * 1_000_000);

    public TcpqEvent Make(EventKind kind, string client, ushort clientPort, double atMs)
    {
        var e = new TcpqEvent { Kind = kind, TsNs = Ms(atMs), SourcePort = clientPort, DestPort = port, NetNs = netns };
        SetAddress(e.SourceAddress, client);
        SetAddress(e.DestAddress, listener);
        return e;
    }

    private static void SetAddress(Span<byte> dest, string text)
    {
        var ip = IPAddress.Parse(text);
        if (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ip = ip.MapToIPv6();
        ip.TryWriteBytes(dest, out _);
    }

    private Scenario Add(TcpqEvent e)
    {
        Events.Add(e);
        return this;
    }

    public Scenario Syn(string c, ushort p, double atMs, uint attempt, (uint q0, uint q, uint qmax) queues, double? firstMs = null)
    {
        var e = Make(EventKind.Syn, c, p, atMs);
        Queues(ref e, queues);
        e.Attempt = attempt;
        e.Flags |= EventFlags.Attempt;
        if (attempt > 1)
        {
            e.WaitNs = (ulong)((atMs - (firstMs ?? 0)) * 1_000_000);
            e.Flags |= EventFlags.Wait;
        }
        return Add(e);
    }

    public Scenario SynDrop(string c, ushort p, double atMs, uint attempt, (uint q0, uint q, uint qmax) queues, uint reason = DropReasons.AcceptQueueFull)
    {
        var e = Make(EventKind.SynDrop, c, p, atMs);
        Queues(ref e, queues);
        e.Attempt = attempt;
        e.Reason = reason;
        e.Flags |= EventFlags.Attempt;
        return Add(e);
    }

    /// <summary>A final ACK or data segment refused at the end of the handshake: the
    /// <paramref name="n"/>-th refused one of this connection (its Attempt).</summary>
    public Scenario AckDrop(string c, ushort p, double atMs, uint n, double firstMs, (uint q0, uint q, uint qmax) queues, uint reason = DropReasons.AcceptQueueFull)
    {
        var e = Make(EventKind.AckDrop, c, p, atMs);
        Queues(ref e, queues);
        e.Attempt = n;
        e.Reason = reason;
        e.WaitNs = (ulong)((atMs - firstMs) * 1_000_000);
        e.Flags |= EventFlags.Attempt | EventFlags.Wait;
        return Add(e);
    }

    public Scenario Cookie(string c, ushort p, double atMs)
    {
        var e = Make(EventKind.SynCookie, c, p, atMs);
        Queues(ref e, (128, 0, 128));
        return Add(e);
    }

    public Scenario SynAckRetrans(string c, ushort p, double atMs, uint n, double firstMs)
    {
        var e = Make(EventKind.SynAckRetrans, c, p, atMs);
        Queues(ref e, (1, 0, 128));
        e.Attempt = n;
        e.WaitNs = (ulong)((atMs - firstMs) * 1_000_000);
        e.Flags |= EventFlags.Attempt | EventFlags.Wait;
        return Add(e);
    }

    public Scenario Established(string c, ushort p, double atMs, double firstMs, uint attempts, (uint q0, uint q, uint qmax) queues)
    {
        var e = Make(EventKind.SynAa, c, p, atMs);
        Queues(ref e, queues);
        e.WaitNs = (ulong)((atMs - firstMs) * 1_000_000);
        e.Attempt = attempts;
        e.Flags |= EventFlags.Wait | EventFlags.Attempt;
        return Add(e);
    }

    public Scenario Accept(string c, ushort p, double atMs, double establishedMs, uint pid = 812, string comm = "nginx")
    {
        var e = Make(EventKind.Accept, c, p, atMs);
        e.WaitNs = (ulong)((atMs - establishedMs) * 1_000_000);
        e.Pid = pid;
        System.Text.Encoding.ASCII.GetBytes(comm).CopyTo((Span<byte>)e.Comm);
        e.Flags |= EventFlags.Wait | EventFlags.Task;
        return Add(e);
    }

    public Scenario Abort(string c, ushort p, double atMs, double establishedMs, uint reason = DropReasons.PeerReset)
    {
        var e = Make(EventKind.Abort, c, p, atMs);
        Queues(ref e, (0, 1, 128));
        e.WaitNs = (ulong)((atMs - establishedMs) * 1_000_000);
        e.Reason = reason;
        e.Flags |= EventFlags.Wait;
        return Add(e);
    }

    /// <summary>The application's first read: <paramref name="bytes"/> returned, <paramref name="dataMs"/>
    /// when its data arrived (before accept too).</summary>
    public Scenario FirstRead(string c, ushort p, double atMs, double acceptMs, double? dataMs, ulong bytes = 100, ulong wroteBefore = 0)
    {
        var e = Make(EventKind.FirstRead, c, p, atMs);
        e.WaitNs = (ulong)((atMs - acceptMs) * 1_000_000);
        e.BytesIn = bytes;
        e.BytesOut = wroteBefore;
        e.Flags |= EventFlags.Wait | EventFlags.Bytes;
        if (dataMs is double d) { e.DataAgeNs = (ulong)((atMs - d) * 1_000_000); e.Flags |= EventFlags.DataAge; }
        return Add(e);
    }

    /// <summary>The first write: after the first read at <paramref name="sinceMs"/> when
    /// <paramref name="readBefore"/> &gt; 0, else since accept.</summary>
    public Scenario FirstWrite(string c, ushort p, double atMs, double sinceMs, ulong readBefore = 100, ulong bytes = 200)
    {
        var e = Make(EventKind.FirstWrite, c, p, atMs);
        e.WaitNs = (ulong)((atMs - sinceMs) * 1_000_000);
        e.BytesIn = readBefore;
        e.BytesOut = bytes;
        e.Flags |= EventFlags.Wait | EventFlags.Bytes;
        return Add(e);
    }

    public Scenario Close(string c, ushort p, double atMs, double acceptMs, Closer closer, bool reset = false, ulong bytesIn = 100, ulong bytesOut = 200)
    {
        var e = Make(EventKind.Close, c, p, atMs);
        e.WaitNs = (ulong)((atMs - acceptMs) * 1_000_000);
        e.BytesIn = bytesIn;
        e.BytesOut = bytesOut;
        e.Closer = closer;
        e.Reset = reset ? (byte)1 : (byte)0;
        e.Flags |= EventFlags.Wait | EventFlags.Bytes | EventFlags.Closer;
        return Add(e);
    }

    /// <summary>A whole request/response connection: accepted after <paramref name="queueMs"/>; its
    /// request arrives <paramref name="sendMs"/> after establishment, is read <paramref name="readMs"/>
    /// after accept (or after it arrived, if later), answered <paramref name="answerMs"/> later; the peer closes 1 ms after.</summary>
    public Scenario Exchange(string c, ushort p, double atMs, double queueMs = 0.05, double sendMs = 0.01, double readMs = 0.02, double answerMs = 0.5)
    {
        Quick(c, p, atMs, queueMs);
        double est = atMs + 0.2, acc = est + queueMs, data = est + sendMs;
        double read = Math.Max(acc + readMs, data + 0.01);
        double write = read + answerMs;
        return FirstRead(c, p, read, acc, data).FirstWrite(c, p, write, read).Close(c, p, write + 1, acc, Closer.Peer);
    }

    /// <summary>A connection that goes well: SYN, established 0.2 ms later, accepted after <paramref name="queueMs"/>.</summary>
    public Scenario Quick(string c, ushort p, double atMs, double queueMs = 0.05, uint qmax = 128, uint pid = 812, string comm = "nginx") =>
        Syn(c, p, atMs, 1, (0, 0, qmax)).Established(c, p, atMs + 0.2, atMs, 1, (1, 0, qmax)).Accept(c, p, atMs + 0.2 + queueMs, atMs + 0.2, pid, comm);

    private static void Queues(ref TcpqEvent e, (uint q0, uint q, uint qmax) q)
    {
        (e.Q0, e.Q, e.QMax) = q;
        e.Flags |= EventFlags.Queues;
    }

    /// <summary>Read as a seed-format file is: no drop rows, so drops are inferred from the queues.</summary>
    public bool SeedInput { get; set; }

    public ConnectionTracker Track(IEnumerable<TcpqEvent>? order = null, TrackerOptions? options = null)
    {
        var t = new ConnectionTracker(options) { InferDropsFromQueues = SeedInput };
        foreach (var e in order ?? Events) t.OnEvent(e);
        t.Complete();
        return t;
    }

    public static DiagnosisContext Context => new(4096, 1024, 5);

    public TraceSummary Summarize(IEnumerable<TcpqEvent>? order = null) =>
        TraceSummary.Build("test", Track(order), Reasons, Context);

    public static DropReasons Reasons { get; } = new(new Dictionary<uint, string> { [2] = "SKB_DROP_REASON_NOT_SPECIFIED", [61] = "SKB_DROP_REASON_TCP_LISTEN_OVERFLOW" });
}
