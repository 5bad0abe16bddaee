using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tcpq.Interop;

/// <summary>A <c>struct bpf_link *</c>: destroying it detaches its program.</summary>
internal sealed class SafeBpfLinkHandle(nint link, SafeBpfProgramHandle program) : SafeBpfChildHandle(link, program)
{
    protected override void ReleaseChild() => LibBpf.LinkDestroy(handle);
}
