using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tcpq.Interop;

/// <summary>A libbpf <c>struct bpf_object *</c>; closing it unloads its programs and maps.</summary>
internal sealed class SafeBpfObjectHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    internal SafeBpfObjectHandle(nint handle) : base(true) => SetHandle(handle);
    protected override bool ReleaseHandle() { LibBpf.ObjectClose(handle); return true; }
}

/// <summary>A handle that points into, or reads from, another one (dotnet/runtime's
/// SafeInteriorHandle idea): it holds a reference on its owner, so whatever the order of
/// disposal, the owner is freed after it and never while a call on it is under way.</summary>
internal abstract class SafeBpfChildHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private readonly SafeHandle _owner;
    private bool _ownerRef;

    protected SafeBpfChildHandle(nint handle, SafeHandle owner) : base(true)
    {
        _owner = owner;
        owner.DangerousAddRef(ref _ownerRef); // first: a handle set without its reference must not be released
        SetHandle(handle);
    }

    protected sealed override bool ReleaseHandle()
    {
        ReleaseChild();
        if (_ownerRef) _owner.DangerousRelease();
        return true;
    }

    /// <summary>Frees what this handle owns itself, while its owner is still there.</summary>
    protected abstract void ReleaseChild();
}

/// <summary>A <c>struct bpf_map *</c>: memory of its object, freed with it.</summary>
internal sealed class SafeBpfMapHandle(nint map, SafeBpfObjectHandle owner) : SafeBpfChildHandle(map, owner)
{
    protected override void ReleaseChild() { }
}

/// <summary>A <c>struct bpf_program *</c>: memory of its object, freed with it.</summary>
internal sealed class SafeBpfProgramHandle(nint program, SafeBpfObjectHandle owner) : SafeBpfChildHandle(program, owner)
{
    protected override void ReleaseChild() { }
}

/// <summary>A <c>struct bpf_link *</c>: destroying it detaches its program.</summary>
internal sealed class SafeBpfLinkHandle(nint link, SafeBpfProgramHandle program) : SafeBpfChildHandle(link, program)
{
    protected override void ReleaseChild() => LibBpf.LinkDestroy(handle);
}

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

/// <summary>A file descriptor from open(2), closed with close(2). fd 0 is a valid descriptor.</summary>
internal sealed class SafeFdHandle : SafeHandleMinusOneIsInvalid
{
    public SafeFdHandle() : base(true) { }
    protected override bool ReleaseHandle() { Libc.Close((int)handle); return true; }
}

/// <summary>A <c>struct btf *</c>.</summary>
internal sealed class SafeBtfHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    internal SafeBtfHandle(nint handle) : base(true) => SetHandle(handle);
    protected override bool ReleaseHandle() { LibBpf.BtfFree(handle); return true; }
}
