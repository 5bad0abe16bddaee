using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Tcpq.Interop;

/// <summary>
/// A libbpf <c>ring_buffer</c> reading a BPF_MAP_TYPE_RINGBUF map. Each record goes, as a span
/// over the ring's own memory (valid only during the call), to the handler given at open; the
/// native callback is an <c>[UnmanagedCallersOnly]</c> function reaching it through a GCHandle.
/// </summary>
internal sealed unsafe class BpfRingBuffer : IDisposable
{
    private readonly SafeRingBufferHandle _handle;
    private readonly Reader _reader;

    private BpfRingBuffer(SafeRingBufferHandle handle, Reader reader)
    {
        _handle = handle;
        _reader = reader;
    }

    /// <exception cref="ErrnoException">libbpf could not map or poll the ring.</exception>
    public static BpfRingBuffer Open(BpfMap map, Action<ReadOnlySpan<byte>> onRecord)
    {
        var reader = new Reader(onRecord);
        var context = GCHandle.Alloc(reader);
        nint ring = LibBpf.RingBufferNew(map.Fd, &OnRecord, GCHandle.ToIntPtr(context), 0);
        if (LibBpf.IsError(ring))
        {
            int errno = Errno.Last;
            context.Free();
            throw new ErrnoException($"ring_buffer__new {map.Name}", errno);
        }
        return new BpfRingBuffer(new SafeRingBufferHandle(ring, map.Handle, context), reader);
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for the kernel's wake-up and reads what is
    /// there. Returns the records read; an interrupted wait reads none.</summary>
    /// <exception cref="ErrnoException">the ring could not be read.</exception>
    /// <remarks>An exception from the handler stops the read and is rethrown here.</remarks>
    public int Poll(int timeoutMs) => Checked(LibBpf.RingBufferPoll(_handle, timeoutMs), "ring_buffer__poll");

    /// <summary>Reads every record waiting, without waiting. Returns the records read.</summary>
    public int Consume() => Checked(LibBpf.RingBufferConsume(_handle), "ring_buffer__consume");

    private int Checked(int result, string call)
    {
        if (result >= 0) return result;
        if (result == -Errno.EINTR) return 0;
        if (_reader.Error is { } error)
        {
            _reader.Error = null;
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
            reader.OnRecord(new ReadOnlySpan<byte>(data, checked((int)size)));
            return 0;
        }
        catch (Exception e)
        {
            reader.Error = ExceptionDispatchInfo.Capture(e); // never let an exception cross into libbpf
            return -1; // stops this poll; Poll() rethrows
        }
    }

    public void Dispose() => _handle.Dispose();

    private sealed class Reader(Action<ReadOnlySpan<byte>> onRecord)
    {
        public readonly Action<ReadOnlySpan<byte>> OnRecord = onRecord;
        public ExceptionDispatchInfo? Error;
    }
}
