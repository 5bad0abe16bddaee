using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Tcpq.Interop;

/// <summary>
/// One BPF_MAP_TYPE_RINGBUF per CPU, made here for the object's array of maps that the programs
/// pick their CPU's ring from, and a libbpf <c>ring_buffer</c> reading them all. Each record goes,
/// as a span over the ring's own memory (valid only during the call), to the handler given at
/// <see cref="Start"/>, with the index of its ring; the native callback is an
/// <c>[UnmanagedCallersOnly]</c> function reaching it through a GCHandle per ring.
/// </summary>
internal sealed unsafe class BpfRingBuffer : IDisposable
{
    private const uint BPF_MAP_TYPE_RINGBUF = 27;

    private readonly BpfMap _rings;
    private readonly SafeFdHandle[] _fds;
    private readonly Errors _errors = new();
    private SafeRingBufferHandle? _handle;

    private BpfRingBuffer(BpfMap rings, SafeFdHandle[] fds)
    {
        _rings = rings;
        _fds = fds;
    }

    /// <summary>Before the object is loaded: makes <paramref name="cpus"/> rings of
    /// <paramref name="ringBytes"/> each (a power of two, a whole number of pages) for the map of
    /// maps <paramref name="rings"/>, the first one its model of an inner map (libbpf 1.1 cannot
    /// size the one it declares: its bpf_map__set_max_entries() faults on an inner map).</summary>
    /// <exception cref="ErrnoException">a ring could not be made.</exception>
    public static BpfRingBuffer PerCpu(BpfMap rings, int cpus, uint ringBytes)
    {
        var fds = new SafeFdHandle[cpus];
        try
        {
            for (int cpu = 0; cpu < cpus; cpu++)
            {
                fds[cpu] = new SafeFdHandle(LibBpf.MapCreate(BPF_MAP_TYPE_RINGBUF, "tcpq_cpu_ring", 0, 0, ringBytes, 0));
                if (fds[cpu].IsInvalid) throw new ErrnoException($"bpf_map_create ring of CPU {cpu} ({ringBytes} bytes)", Errno.Last);
            }
            ErrnoException.ThrowIfNegative(LibBpf.MapSetInnerMapFd(rings.Handle, Fd(fds[0])), $"bpf_map__set_inner_map_fd {rings.Name}");
            return new BpfRingBuffer(rings, fds);
        }
        catch
        {
            foreach (var fd in fds) fd?.Dispose();
            throw;
        }
    }

    /// <summary>Once the object is loaded: reads the one ring <paramref name="map"/> (a
    /// BPF_MAP_TYPE_RINGBUF the object made itself, as counting mode's span records are).</summary>
    /// <exception cref="ErrnoException">libbpf could not map or poll the ring.</exception>
    public static BpfRingBuffer Open(BpfMap map, Action<ReadOnlySpan<byte>> onRecord)
    {
        var ring = new BpfRingBuffer(map, []);
        var context = GCHandle.Alloc(new Reader(0, (_, data) => onRecord(data), ring._errors));
        nint handle = LibBpf.RingBufferNew(map.Fd, &OnRecord, GCHandle.ToIntPtr(context), 0);
        if (LibBpf.IsError(handle))
        {
            int errno = Errno.Last;
            context.Free();
            throw new ErrnoException($"ring_buffer__new {map.Name}", errno);
        }
        ring._handle = new SafeRingBufferHandle(handle, map.Handle, [context]);
        return ring;
    }

    /// <summary>Once the object is loaded: ring i goes to key i of the map, and reading begins.</summary>
    /// <exception cref="ErrnoException">a ring could not be stored, mapped or polled.</exception>
    public void Start(Action<int, ReadOnlySpan<byte>> onRecord)
    {
        var contexts = new List<GCHandle>(_fds.Length);
        nint ring = 0;
        try
        {
            for (int cpu = 0; cpu < _fds.Length; cpu++)
            {
                uint key = (uint)cpu;
                int fd = Fd(_fds[cpu]);
                if (LibBpf.MapUpdateElem(_rings.Fd, &key, &fd, 0) != 0)
                    throw new ErrnoException($"bpf_map_update_elem {_rings.Name}[{cpu}]", Errno.Last);
                var context = GCHandle.Alloc(new Reader(cpu, onRecord, _errors));
                contexts.Add(context);
                if (cpu == 0)
                {
                    ring = LibBpf.RingBufferNew(fd, &OnRecord, GCHandle.ToIntPtr(context), 0);
                    if (LibBpf.IsError(ring))
                    {
                        ring = 0;
                        throw new ErrnoException($"ring_buffer__new {_rings.Name}[0]", Errno.Last);
                    }
                }
                else if (LibBpf.RingBufferAdd(ring, fd, &OnRecord, GCHandle.ToIntPtr(context)) < 0)
                {
                    throw new ErrnoException($"ring_buffer__add {_rings.Name}[{cpu}]", Errno.Last);
                }
            }
            _handle = new SafeRingBufferHandle(ring, _rings.Handle, [.. contexts]);
        }
        catch
        {
            if (ring != 0) LibBpf.RingBufferFree(ring);
            foreach (var c in contexts) c.Free();
            throw;
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for the kernel's wake-up and reads what is
    /// there. Returns the records read; an interrupted wait reads none.</summary>
    /// <exception cref="ErrnoException">the rings could not be read.</exception>
    /// <remarks>An exception from the handler stops the read and is rethrown here.</remarks>
    public int Poll(int timeoutMs) => Checked(LibBpf.RingBufferPoll(Started, timeoutMs), "ring_buffer__poll");

    /// <summary>Reads every record waiting, without waiting. Returns the records read.</summary>
    public int Consume() => Checked(LibBpf.RingBufferConsume(Started), "ring_buffer__consume");

    private SafeRingBufferHandle Started => _handle ?? throw new InvalidOperationException("the ring buffers are not started");

    private static int Fd(SafeFdHandle fd) => (int)fd.DangerousGetHandle();

    private int Checked(int result, string call)
    {
        if (result >= 0) return result;
        if (result == -Errno.EINTR) return 0;
        if (_errors.Error is { } error)
        {
            _errors.Error = null;
            error.Throw();
        }
        throw new ErrnoException(call, -result);
    }

    [UnmanagedCallersOnly]
    private static int OnRecord(nint context, void* data, nuint size)
    {
        var reader = (Reader)GCHandle.FromIntPtr(context).Target!;
        try
        {
            reader.OnRecord(reader.Ring, new ReadOnlySpan<byte>(data, checked((int)size)));
            return 0;
        }
        catch (Exception e)
        {
            reader.Errors.Error = ExceptionDispatchInfo.Capture(e); // never let an exception cross into libbpf
            return -1; // stops this poll; Poll() rethrows
        }
    }

    /// <summary>The reader first (its epoll holds the rings), then the rings' descriptors (the map
    /// of maps keeps its own references until the object is closed).</summary>
    public void Dispose()
    {
        _handle?.Dispose();
        foreach (var fd in _fds) fd.Dispose();
    }

    private sealed class Errors
    {
        public ExceptionDispatchInfo? Error;
    }

    private sealed class Reader(int ring, Action<int, ReadOnlySpan<byte>> onRecord, Errors errors)
    {
        public readonly int Ring = ring;
        public readonly Action<int, ReadOnlySpan<byte>> OnRecord = onRecord;
        public readonly Errors Errors = errors;
    }
}
