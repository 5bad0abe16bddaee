using Microsoft.Win32.SafeHandles;

namespace Tcpq.Interop;

/// <summary>A libbpf <c>struct bpf_object *</c>; closing it unloads its programs and maps.</summary>
internal sealed class SafeBpfObjectHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeBpfObjectHandle() : base(true) { }
    internal SafeBpfObjectHandle(nint handle) : base(true) => SetHandle(handle);
    protected override bool ReleaseHandle() { LibBpf.ObjectClose(handle); return true; }
}

/// <summary>A <c>struct bpf_link *</c>. It keeps its object alive: a link must be destroyed first.</summary>
internal sealed class SafeBpfLinkHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private readonly SafeBpfObjectHandle _owner;
    private bool _ownerRef;

    internal SafeBpfLinkHandle(nint handle, SafeBpfObjectHandle owner) : base(true)
    {
        _owner = owner;
        owner.DangerousAddRef(ref _ownerRef);
        SetHandle(handle);
    }

    protected override bool ReleaseHandle()
    {
        LibBpf.LinkDestroy(handle);
        if (_ownerRef) _owner.DangerousRelease();
        return true;
    }
}

/// <summary>A <c>struct ring_buffer *</c>, reading a map of its object.</summary>
internal sealed class SafeRingBufferHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private readonly SafeBpfObjectHandle _owner;
    private bool _ownerRef;

    internal SafeRingBufferHandle(nint handle, SafeBpfObjectHandle owner) : base(true)
    {
        _owner = owner;
        owner.DangerousAddRef(ref _ownerRef);
        SetHandle(handle);
    }

    protected override bool ReleaseHandle()
    {
        LibBpf.RingBufferFree(handle);
        if (_ownerRef) _owner.DangerousRelease();
        return true;
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
    public SafeBtfHandle() : base(true) { }
    internal SafeBtfHandle(nint handle) : base(true) => SetHandle(handle);
    protected override bool ReleaseHandle() { LibBpf.BtfFree(handle); return true; }
}
