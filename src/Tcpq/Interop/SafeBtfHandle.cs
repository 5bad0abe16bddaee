using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tcpq.Interop;

/// <summary>A <c>struct btf *</c>.</summary>
internal sealed class SafeBtfHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    internal SafeBtfHandle(nint handle) : base(true) => SetHandle(handle);
    protected override bool ReleaseHandle() { LibBpf.BtfFree(handle); return true; }
}
