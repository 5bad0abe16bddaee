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
    // Into the application (issue #13); 9..15 are the .NET EventPipe rows' (Dotnet/)
    FirstRead = 16,    // the first read that returned data; Wait = since accept
    FirstWrite = 17,   // the first write that sent data; Wait = since the first read, or accept
    Close = 18,        // the accepted connection ended; Wait = its lifetime since accept
}
