using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tcpq.Events;

/// <summary>Which fields of an event hold a value: mirrors <c>enum tcpq_flag</c> in bpf/tcpq.h.</summary>
[Flags]
public enum EventFlags : byte
{
    None = 0,
    Queues = 0x1,
    Wait = 0x2,
    Attempt = 0x4,
    Task = 0x8,
    Drops = 0x10,
    Bytes = 0x20,
    DataAge = 0x40,
    Closer = 0x80,
}
