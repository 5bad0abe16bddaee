using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tcpq.Interop;

/// <summary>A <c>struct bpf_program *</c>: memory of its object, freed with it.</summary>
internal sealed class SafeBpfProgramHandle(nint program, SafeBpfObjectHandle owner) : SafeBpfChildHandle(program, owner)
{
    protected override void ReleaseChild() { }
}
