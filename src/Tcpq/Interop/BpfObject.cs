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

    private static nint Found(nint pointer, string kind, string name) =>
        pointer != 0 ? pointer : throw new TcpqException(ExitCode.Failure, $"the BPF object has no {kind} '{name}'");

    public void Dispose()
    {
        foreach (var program in _programs.Values) program.Handle.Dispose();
        foreach (var map in _maps.Values) map.Handle.Dispose();
        _handle.Dispose();
    }
}

/// <summary>A map of a <see cref="BpfObject"/>: sized and given its initial value before load,
/// read after.</summary>
internal sealed unsafe class BpfMap(string name, SafeBpfMapHandle handle)
{
    public string Name { get; } = name;
    internal SafeBpfMapHandle Handle { get; } = handle;

    /// <summary>The map's file descriptor, once loaded.</summary>
    public int Fd => LibBpf.MapFd(Handle);

    /// <summary>The size of a .data/.rodata/.bss map's initial value, as compiled.</summary>
    public int InitialValueSize
    {
        get
        {
            nuint size;
            LibBpf.MapInitialValue(Handle, &size);
            return (int)size;
        }
    }

    public void SetInitialValue(ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value)
            ErrnoException.ThrowIfNegative(LibBpf.MapSetInitialValue(Handle, p, (nuint)value.Length), $"bpf_map__set_initial_value {Name}");
    }

    public void SetMaxEntries(uint maxEntries) =>
        ErrnoException.ThrowIfNegative(LibBpf.MapSetMaxEntries(Handle, maxEntries), $"bpf_map__set_max_entries {Name}");

    /// <summary>The sum over all CPUs of a per-CPU array's u64 at <paramref name="key"/>, or null
    /// when it cannot be read.</summary>
    public ulong? SumPerCpu(uint key)
    {
        int cpus = LibBpf.NumPossibleCpus();
        if (cpus <= 0) return null;
        var values = stackalloc ulong[cpus]; // the kernel writes one 8-byte slot per possible CPU
        bool added = false;
        Handle.DangerousAddRef(ref added); // the fd is the object's: keep it open for the lookup
        try
        {
            if (LibBpf.MapLookupElem(Fd, &key, values) != 0) return null;
        }
        finally
        {
            if (added) Handle.DangerousRelease();
        }
        ulong sum = 0;
        for (int i = 0; i < cpus; i++) sum += values[i];
        return sum;
    }
}

/// <summary>A program of a <see cref="BpfObject"/>: chosen for loading or not, then attached.
/// Each attachment is a link handle; disposing it detaches.</summary>
internal sealed class BpfProgram(string name, SafeBpfProgramHandle handle)
{
    public string Name { get; } = name;
    internal SafeBpfProgramHandle Handle { get; } = handle;

    public void SetAutoload(bool autoload) =>
        ErrnoException.ThrowIfNegative(LibBpf.ProgramSetAutoload(Handle, autoload), $"bpf_program__set_autoload {Name}");

    /// <summary>Attaches where the program's section says (a tracepoint, a BTF tracepoint...).</summary>
    /// <exception cref="ErrnoException">the kernel refused, or has no such attach point.</exception>
    public SafeBpfLinkHandle Attach() => Link(LibBpf.ProgramAttach(Handle), "bpf_program__attach");

    /// <summary>Attaches a cgroup program to the cgroup open at <paramref name="cgroup"/>.</summary>
    /// <exception cref="ErrnoException">the kernel refused.</exception>
    public SafeBpfLinkHandle AttachCgroup(SafeFdHandle cgroup)
    {
        bool added = false;
        cgroup.DangerousAddRef(ref added);
        try
        {
            return Link(LibBpf.ProgramAttachCgroup(Handle, (int)cgroup.DangerousGetHandle()), "bpf_program__attach_cgroup");
        }
        finally
        {
            if (added) cgroup.DangerousRelease();
        }
    }

    private SafeBpfLinkHandle Link(nint link, string call) =>
        LibBpf.IsError(link) ? throw new ErrnoException($"{call} {Name}", Errno.Last) : new SafeBpfLinkHandle(link, Handle);
}
