using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tcpq.Interop;

/// <summary>A <c>struct bpf_map *</c>: memory of its object, freed with it.</summary>
internal sealed class SafeBpfMapHandle(nint map, SafeBpfObjectHandle owner) : SafeBpfChildHandle(map, owner)
{
    protected override void ReleaseChild() { }
}
