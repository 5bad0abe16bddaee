using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tcpq.Interop;

/// <summary>A file descriptor from open(2), closed with close(2). fd 0 is a valid descriptor.</summary>
internal sealed class SafeFdHandle : SafeHandleMinusOneIsInvalid
{
    public SafeFdHandle() : base(true) { }
    public SafeFdHandle(int fd) : base(true) => SetHandle(fd);
    protected override bool ReleaseHandle() { Libc.Close((int)handle); return true; }
}
