using System.Runtime.InteropServices;

namespace Tcpq.Interop;

/// <summary>
/// A libbpf <c>bpf_object</c>: opened from an ELF image, configured through its maps and
/// programs, loaded. The maps and programs it hands out are typed handles that keep it alive; it
/// closes them when it is disposed, and is itself freed once the last of them (and of the links
/// and ring buffers made from them) is gone.
/// </summary>
internal sealed unsafe class BpfObject : IDisposable
{
    private readonly SafeBpfObjectHandle _handle;
    private readonly Dictionary<string, BpfMap> _maps = [];
    private readonly Dictionary<string, BpfProgram> _programs = [];

    private BpfObject(SafeBpfObjectHandle handle) => _handle = handle;

    /// <exception cref="ErrnoException">libbpf refused the image.</exception>
    public static BpfObject Open(ReadOnlySpan<byte> elf)
    {
        fixed (byte* p = elf)
        {
            // libbpf copies the buffer: it need not outlive this call
            nint obj = LibBpf.ObjectOpenMem(p, (nuint)elf.Length, 0);
            if (LibBpf.IsError(obj)) throw new ErrnoException("bpf_object__open_mem", Errno.Last);
            return new BpfObject(new SafeBpfObjectHandle(obj));
        }
    }

    /// <summary>Loads every program whose autoload is on, and creates the maps.</summary>
    /// <exception cref="ErrnoException">the kernel (or libbpf) refused; libbpf's log says why.</exception>
    public void Load() => ErrnoException.ThrowIfNegative(LibBpf.ObjectLoad(_handle), "bpf_object__load");

    public BpfMap FindMap(string name)
    {
        if (!_maps.TryGetValue(name, out var map))
            _maps[name] = map = new BpfMap(name, new SafeBpfMapHandle(Found(LibBpf.ObjectFindMap(_handle, name), "map", name), _handle));
        return map;
    }

    public BpfProgram FindProgram(string name)
    {
        if (!_programs.TryGetValue(name, out var program))
            _programs[name] = program = new BpfProgram(name, new SafeBpfProgramHandle(Found(LibBpf.ObjectFindProgram(_handle, name), "program", name), _handle));
        return program;
    }

    /// <summary>The names of the object's programs, in the order of its sections.</summary>
    public List<string> ProgramNames()
    {
        var names = new List<string>();
        for (nint p = LibBpf.ObjectNextProgram(_handle, 0); p != 0; p = LibBpf.ObjectNextProgram(_handle, p))
            names.Add(Marshal.PtrToStringUTF8((nint)LibBpf.ProgramName(p)) ?? "");
        return names;
    }

    private static nint Found(nint pointer, string kind, string name) =>
        pointer != 0 ? pointer : throw new TcpqException(ExitCode.Failure, $"the BPF object has no {kind} '{name}'");

    public void Dispose()
    {
        foreach (var program in _programs.Values) program.Handle.Dispose();
        foreach (var map in _maps.Values) map.Handle.Dispose();
        _handle.Dispose();
    }
}
