using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Tcpq.Interop;

/// <summary>
/// One BPF_MAP_TYPE_RINGBUF per CPU, made here for the object's array of maps that the programs
/// pick their CPU's ring from, each mapped and read in place (<see cref="MappedRing"/>: the consumer
/// position stored once per read, no native callback per record), one epoll waiting on them all.
/// Each record goes, as a span over the ring's own memory (valid only during the call), to the
/// handler given at <see cref="Start"/>, with the index of its ring. One ring the object made itself
/// (<see cref="Open"/>) is read by a libbpf <c>ring_buffer</c>, whose native callback is an
/// <c>[UnmanagedCallersOnly]</c> function reaching the handler through a GCHandle.
/// </summary>
internal sealed unsafe class BpfRingBuffer : IDisposable
{
    private const uint BPF_MAP_TYPE_RINGBUF = 27;

    private readonly BpfMap _rings;
    private readonly SafeFdHandle[] _fds;
    private readonly uint _ringBytes;
    private readonly Errors _errors = new();
    private SafeRingBufferHandle? _handle;
    private MappedRing[]? _mapped;
    private SafeFdHandle? _epoll;
    private Action<int, ReadOnlySpan<byte>>? _onRecord;

    private BpfRingBuffer(BpfMap rings, SafeFdHandle[] fds, uint ringBytes = 0)
    {
        _rings = rings;
        _fds = fds;
        _ringBytes = ringBytes;
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
            return new BpfRingBuffer(rings, fds, ringBytes);
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
        var mapped = new List<MappedRing>(_fds.Length);
        var epoll = new SafeFdHandle(Libc.EpollCreate1(Libc.EPOLL_CLOEXEC));
        try
        {
            if (epoll.IsInvalid) throw new ErrnoException("epoll_create1", Errno.Last);
            byte* ev = stackalloc byte[16];
            for (int cpu = 0; cpu < _fds.Length; cpu++)
            {
                uint key = (uint)cpu;
                int fd = Fd(_fds[cpu]);
                if (LibBpf.MapUpdateElem(_rings.Fd, &key, &fd, 0) != 0)
                    throw new ErrnoException($"bpf_map_update_elem {_rings.Name}[{cpu}]", Errno.Last);
                mapped.Add(MappedRing.Map(fd, _ringBytes));
                new Span<byte>(ev, 16).Clear();
                *(uint*)ev = Libc.EPOLLIN; // level-triggered, as libbpf's: data left unread wakes again
                if (Libc.EpollCtl(Fd(epoll), Libc.EPOLL_CTL_ADD, fd, ev) != 0)
                    throw new ErrnoException($"epoll_ctl {_rings.Name}[{cpu}]", Errno.Last);
            }
            _mapped = [.. mapped];
            _epoll = epoll;
            _onRecord = onRecord;
        }
        catch
        {
            foreach (var m in mapped) m.Dispose();
            epoll.Dispose();
            throw;
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for the kernel's wake-up and reads what is
    /// there. Returns the records read; an interrupted wait reads none.</summary>
    /// <exception cref="ErrnoException">the rings could not be read.</exception>
    /// <remarks>An exception from the handler stops the read and is rethrown here.</remarks>
    public int Poll(int timeoutMs)
    {
        if (_mapped is null) return Checked(LibBpf.RingBufferPoll(Started, timeoutMs), "ring_buffer__poll");
        byte* events = stackalloc byte[16 * 8];
        int ready = Libc.EpollWait(Fd(_epoll!), events, 8, timeoutMs);
        if (ready < 0)
        {
            int errno = Errno.Last;
            if (errno == Errno.EINTR) return 0;
            throw new ErrnoException("epoll_wait", errno);
        }
        return ready == 0 ? 0 : Consume();
    }

    /// <summary>Reads every record waiting, without waiting. Returns the records read.</summary>
    public int Consume()
    {
        if (_mapped is null) return Checked(LibBpf.RingBufferConsume(Started), "ring_buffer__consume");
        int n = 0;
        for (int ring = 0; ring < _mapped.Length; ring++) n += _mapped[ring].Consume(ring, _onRecord!);
        return n;
    }

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

    /// <summary>The reader first (its epoll holds the rings), then the mappings, then the rings'
    /// descriptors (the map of maps keeps its own references until the object is closed).</summary>
    public void Dispose()
    {
        _handle?.Dispose();
        _epoll?.Dispose();
        if (_mapped != null) foreach (var m in _mapped) m.Dispose();
        _mapped = null;
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
