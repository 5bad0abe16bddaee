namespace Tcpq.Interop;

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
