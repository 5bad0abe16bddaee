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

    /// <summary>Whether load creates the map (a map only dead code refers to need not exist).</summary>
    public void SetAutoCreate(bool create) =>
        ErrnoException.ThrowIfNegative(LibBpf.MapSetAutocreate(Handle, create), $"bpf_map__set_autocreate {Name}");

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

    /// <summary>Every key of a hash map, as it is now (a map that changes while it is walked may
    /// give a key twice or miss one that came meanwhile; callers take a later reading for those).
    /// At most <paramref name="limit"/> keys.</summary>
    public List<TKey> Keys<TKey>(int limit) where TKey : unmanaged
    {
        var keys = new List<TKey>();
        bool added = false;
        Handle.DangerousAddRef(ref added);
        try
        {
            TKey next;
            TKey current;
            void* prev = null; // NULL: the first key
            while (keys.Count < limit && LibBpf.MapGetNextKey(Fd, prev, &next) == 0)
            {
                keys.Add(next);
                current = next;
                prev = &current;
            }
        }
        finally
        {
            if (added) Handle.DangerousRelease();
        }
        return keys;
    }

    /// <summary>Number of possible CPUs: the slots of a per-CPU map's value.</summary>
    public static int PossibleCpus => Math.Max(LibBpf.NumPossibleCpus(), 1);

    /// <summary>A per-CPU map's value for <paramref name="key"/>, one slot per possible CPU (the
    /// kernel rounds each slot to 8 bytes: <typeparamref name="TValue"/>'s size must be a multiple
    /// of 8). False when the key is gone.</summary>
    public bool LookupPerCpu<TKey, TValue>(in TKey key, Span<TValue> perCpu) where TKey : unmanaged where TValue : unmanaged
    {
        if (sizeof(TValue) % 8 != 0) throw new ArgumentException($"{typeof(TValue).Name} is {sizeof(TValue)} bytes, not a multiple of 8");
        if (perCpu.Length < PossibleCpus) throw new ArgumentException("one slot per possible CPU");
        bool added = false;
        Handle.DangerousAddRef(ref added);
        try
        {
            TKey k = key;
            fixed (TValue* values = perCpu)
                return LibBpf.MapLookupElem(Fd, &k, values) == 0;
        }
        finally
        {
            if (added) Handle.DangerousRelease();
        }
    }

    /// <summary>The value at <paramref name="key"/> of a map that is not per-CPU. False when absent.</summary>
    public bool Lookup<TKey, TValue>(in TKey key, out TValue value) where TKey : unmanaged where TValue : unmanaged
    {
        bool added = false;
        Handle.DangerousAddRef(ref added);
        try
        {
            TKey k = key;
            TValue v;
            bool found = LibBpf.MapLookupElem(Fd, &k, &v) == 0;
            value = found ? v : default;
            return found;
        }
        finally
        {
            if (added) Handle.DangerousRelease();
        }
    }

    /// <summary>Writes <paramref name="value"/> at <paramref name="key"/> (BPF_ANY). For a per-CPU
    /// map, <typeparamref name="TValue"/> must hold every CPU's slot.</summary>
    /// <exception cref="ErrnoException">the kernel refused.</exception>
    public void Update<TKey, TValue>(in TKey key, ReadOnlySpan<TValue> value) where TKey : unmanaged where TValue : unmanaged
    {
        bool added = false;
        Handle.DangerousAddRef(ref added);
        try
        {
            TKey k = key;
            fixed (TValue* v = value)
                ErrnoException.ThrowIfNegative(LibBpf.MapUpdateElem(Fd, &k, v, 0), $"bpf_map_update_elem {Name}");
        }
        finally
        {
            if (added) Handle.DangerousRelease();
        }
    }

    /// <summary>Removes <paramref name="key"/>; false when it was not there.</summary>
    public bool Delete<TKey>(in TKey key) where TKey : unmanaged
    {
        bool added = false;
        Handle.DangerousAddRef(ref added);
        try
        {
            TKey k = key;
            return LibBpf.MapDeleteElem(Fd, &k) == 0;
        }
        finally
        {
            if (added) Handle.DangerousRelease();
        }
    }

    /// <summary>Pushes <paramref name="value"/> onto a queue or stack map.</summary>
    /// <exception cref="ErrnoException">the kernel refused (the queue is full).</exception>
    public void Push<TValue>(TValue value) where TValue : unmanaged
    {
        bool added = false;
        Handle.DangerousAddRef(ref added);
        try
        {
            ErrnoException.ThrowIfNegative(LibBpf.MapUpdateElem(Fd, null, &value, 0), $"push onto {Name}");
        }
        finally
        {
            if (added) Handle.DangerousRelease();
        }
    }
}
