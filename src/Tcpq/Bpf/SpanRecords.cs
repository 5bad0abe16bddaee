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

    private readonly BpfRingBuffer _ring;
    private readonly BpfMap _lost;
    private readonly Action _settle;
    private Handler? _handler;

    /// <param name="settle">Settles each CPU's last verdict (CountingPrograms.SettleVerdicts): a
    /// SYN's drop is known to the kernel only once settled, and its retry is a slow connection only
    /// if the drop was known by then.</param>
    internal SpanRecords(BpfObject obj, Action settle)
    {
        _settle = settle;
        _lost = obj.FindMap("span_records_lost");
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
