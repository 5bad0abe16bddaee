using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tcpq.Interop;

/// <summary>A libbpf <c>struct bpf_object *</c>; closing it unloads its programs and maps.</summary>
internal sealed class SafeBpfObjectHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    internal SafeBpfObjectHandle(nint handle) : base(true) => SetHandle(handle);
    protected override bool ReleaseHandle() { LibBpf.ObjectClose(handle); return true; }
}
