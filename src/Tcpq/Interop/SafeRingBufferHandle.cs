using System.Runtime.InteropServices;

namespace Tcpq.Interop;

/// <summary>A <c>struct ring_buffer *</c> reading a map's rings, and the GCHandles its callbacks
/// get as context: freed after the ring_buffer, so no callback can find one gone.</summary>
internal sealed class SafeRingBufferHandle(nint ring, SafeBpfMapHandle map, GCHandle[] contexts) : SafeBpfChildHandle(ring, map)
{
    protected override void ReleaseChild()
    {
        LibBpf.RingBufferFree(handle);
        foreach (var context in contexts) context.Free();
    }
}
