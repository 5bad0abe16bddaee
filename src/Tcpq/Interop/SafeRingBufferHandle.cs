using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tcpq.Interop;

/// <summary>A <c>struct ring_buffer *</c> reading a map, and the GCHandle its callback gets as
/// context: freed after the ring, so no callback can find it gone.</summary>
internal sealed class SafeRingBufferHandle(nint ring, SafeBpfMapHandle map, GCHandle context) : SafeBpfChildHandle(ring, map)
{
    protected override void ReleaseChild()
    {
        LibBpf.RingBufferFree(handle);
        context.Free();
    }
}
