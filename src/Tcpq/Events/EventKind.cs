using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tcpq.Events;

/// <summary>The Action column: mirrors <c>enum tcpq_kind</c> in bpf/tcpq.h.</summary>
public enum EventKind : byte
{
    Syn = 1,
    SynDrop = 2,
    SynCookie = 3,
    SynAckRetrans = 4,
    SynAa = 5,
    AckDrop = 6,
    Accept = 7,
    Abort = 8,
}
