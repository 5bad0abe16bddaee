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

    // From the application, never from the kernel (Dotnet/: a .NET process's EventPipe session).
    // Per connection (the 4-tuple Kestrel reports):
    AppConn = 9,       // Kestrel started the connection
    AppRequest = 10,   // a request ended; Wait = its duration, Attempt = its number on the connection
    AppClose = 11,     // Kestrel ended the connection; Wait = since app-conn, Attempt = requests served
    AppReject = 12,    // Kestrel refused it: MaxConcurrentConnections reached
    // Per process (no 4-tuple):
    AppPool = 13,      // the thread pool each second: Q0 = threads, Q = queued work items
    AppStarve = 14,    // the pool added a thread because work starved; Attempt = the new thread count
    AppGc = 15,        // a GC pause; Wait = its length, Attempt = the GC's number

    // Into the application (issue #13); 9..15 are the .NET EventPipe rows' (Dotnet/)
    FirstRead = 16,    // the first read that returned data; Wait = since accept
    FirstWrite = 17,   // the first write that sent data; Wait = since the first read, or accept
    Close = 18,        // the accepted connection ended; Wait = its lifetime since accept
}
