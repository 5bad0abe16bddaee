using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tcpq.Events;

/// <summary>
/// One kernel event, exactly as <c>struct tcpq_event</c> in bpf/tcpq.h lays it out (a test checks
/// this against the BTF of the compiled object). Read straight from the ring buffer.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 136)]
public struct TcpqEvent
{
    public ulong TsNs;
    public ulong WaitNs;
    public Address16 SourceAddress;
    public Address16 DestAddress;
    public uint NetNs;
    public uint Pid;
    public uint Q0;
    public uint Q;
    public uint QMax;
    public uint Attempt;
    public uint Reason;
    public uint Drops;
    public ushort SourcePort;
    public ushort DestPort;
    public EventKind Kind;
    public EventFlags Flags;
    public ushort Pad;
    public Comm16 Comm;
    // first-read, first-write, close (issue #13)
    public ulong BytesIn;
    public ulong BytesOut;
    public ulong DataAgeNs;
    public Closer Closer;
    public byte Reset;
    public Pad6 Pad2;

    public const int Size = 136;

    public readonly bool Has(EventFlags f) => (Flags & f) == f;
}

/// <summary>Six bytes of padding, as <c>__u8 pad2[6]</c>.</summary>
[InlineArray(6)]
public struct Pad6
{
    private byte _b;
}
