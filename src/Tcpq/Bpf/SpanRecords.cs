using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Tcpq.Events;
using Tcpq.Interop;

namespace Tcpq.Bpf;

/// <summary>
/// Counting mode's span records (bpf/count_spans.h): the connections it saw as slow, dropped or
/// retried, read from their ring on the caller's tick. The kernel sends them without a wakeup, so
/// nothing wakes tcpq between reads; a record that did not fit the ring is counted in the kernel
/// (<see cref="Lost"/>).
/// </summary>
public sealed class SpanRecords : IDisposable
{
    /// <summary>Handles one record; it is valid only during the call.</summary>
    public delegate void Handler(in SpanRecord record);

    /// <summary>At most this many entries of <c>dropped_syns</c> are read a scan: its size.</summary>
    public const int MaxDroppedClients = 16384;

    private readonly BpfRingBuffer _ring;
    private readonly BpfMap _lost, _dropped;
    private readonly Action _settle;
    private Handler? _handler;

    /// <param name="settle">Settles each CPU's last verdict (CountingPrograms.SettleVerdicts): a
    /// SYN's drop is known to the kernel only once settled, and its retry is a slow connection only
    /// if the drop was known by then.</param>
    internal SpanRecords(BpfObject obj, Action settle)
    {
        _settle = settle;
        _lost = obj.FindMap("span_records_lost");
        _dropped = obj.FindMap("dropped_syns");
        _ring = BpfRingBuffer.Open(obj.FindMap("span_records"), OnRecord);
    }

    /// <summary>Settles the CPUs' last verdicts, then reads every record waiting, without waiting.
    /// Returns how many. serve calls it every tick (100 ms), so a dropped SYN is known well before
    /// its client retries (1 s).</summary>
    /// <exception cref="ErrnoException">the ring could not be read.</exception>
    public int Read(Handler handler)
    {
        _settle();
        _handler = handler;
        try { return _ring.Consume(); }
        finally { _handler = null; }
    }

    /// <summary>The clients whose SYNs were all dropped and that sent none for more than
    /// <paramref name="quietNs"/> before <paramref name="nowNs"/>: counting mode's table of dropped
    /// SYNs (<c>dropped_syns</c>, bpf/count.h) keeps an entry until the client's handshake
    /// completes, so one still there long after its last drop is a client that gave up. Each
    /// becomes a <see cref="SpanRecordKind.Dropped"/> record, at every read until the kernel
    /// forgets it (the entry stays: the kernel's counting of a late retry must not change because
    /// tcpq looked; the caller knows which it has handed on). Walks the table a key at a time:
    /// call it every few seconds.</summary>
    public int ReadDropped(ulong nowNs, ulong quietNs, Handler handler)
    {
        int n = 0;
        foreach (var key in _dropped.Keys<DroppedClientKey>(MaxDroppedClients))
        {
            if (!_dropped.Lookup(key, out DroppedClient d) || d.LastNs > nowNs || nowNs - d.LastNs <= quietNs) continue;
            var r = new SpanRecord
            {
                Kind = SpanRecordKind.Dropped, FirstSynNs = d.FirstNs, EndNs = d.LastNs,
                Client = key.Client, Local = key.Local, Listener = key.Local, NetNs = key.NetNs,
                ClientPort = key.ClientPort, Port = key.Port, SynDrops = d.Attempts,
            };
            handler(in r);
            n++;
        }
        return n;
    }

    private void OnRecord(ReadOnlySpan<byte> data)
    {
        if (data.Length < Unsafe.SizeOf<SpanRecord>()) return; // never shorter: the kernel reserves sizeof(struct tcpq_span_record)
        _handler?.Invoke(in MemoryMarshal.AsRef<SpanRecord>(data));
    }

    /// <summary>Records that did not fit the ring, since load.</summary>
    public ulong Lost => _lost.SumPerCpu(0) ?? 0;

    public void Dispose() => _ring.Dispose();
}

/// <summary>enum tcpq_span_kind: where counting mode saw the connection as slow.</summary>
public enum SpanRecordKind : byte
{
    /// <summary>Its handshake completed: slower than the threshold, or after dropped SYNs or SYN-ACK retransmits.</summary>
    Established = 1,
    /// <summary>accept() returned it after waiting in the queue longer than the threshold (a sampling window).</summary>
    Accepted = 2,
    /// <summary>It left the accept queue unaccepted after waiting that long.</summary>
    Aborted = 3,
    /// <summary>Every SYN it sent was dropped, and it stopped trying: made by user space from
    /// counting mode's table of dropped SYNs (<see cref="SpanRecords.ReadDropped"/>), never sent by the kernel.</summary>
    Dropped = 4,
}

/// <summary>struct conn4 (bpf/count.h): a client whose SYN a listener dropped.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DroppedClientKey
{
    public Address16 Client, Local;
    public uint NetNs;
    public ushort ClientPort, Port;
}

/// <summary>struct dropped_syn (bpf/count.h): its first and last dropped SYN, kernel monotonic ns.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DroppedClient
{
    public ulong FirstNs;
    public uint Attempts, Pad;
    public ulong LastNs;
}

/// <summary>struct tcpq_span_record (bpf/count_spans.h). Times are the kernel's monotonic ns; 0 is
/// "not known".</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SpanRecord
{
    public ulong FirstSynNs, EstablishedNs, EndNs;
    public Address16 Client, Local, Listener;
    public uint NetNs, Slot;
    public ushort ClientPort, Port;
    public SpanRecordKind Kind;
    public byte Pad;
    /// <summary>The abort's kernel counter (enum tcpq_counter), for <see cref="SpanRecordKind.Aborted"/>.</summary>
    public ushort Abort;
    public uint SynDrops, SynAckRetransmits, Pid;
    public Comm16 Comm;
}
