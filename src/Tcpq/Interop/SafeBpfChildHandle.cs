using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tcpq.Interop;

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
