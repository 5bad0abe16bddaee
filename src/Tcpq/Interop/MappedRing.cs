using System.Runtime.CompilerServices;

namespace Tcpq.Interop;

/// <summary>
/// One BPF_MAP_TYPE_RINGBUF mapped into this process and read in place, as libbpf's ring_buffer
/// reads it (the layout of kernel/bpf/ringbuf.c: a page with the consumer position, writable; a
/// page with the producer position, then the data mapped twice in a row, so a record that wraps
/// is contiguous). Unlike libbpf 1.1, which stores the consumer position after every record (a
/// cache line the kernel's producer reads at every reserve: one transfer between the CPUs per
/// record while the reader runs), it stores it once per read, and hands each record to a managed
/// handler without a native callback.
/// </summary>
internal sealed unsafe class MappedRing : IDisposable
{
    private const uint BusyBit = 1u << 31;
    private const uint DiscardBit = 1u << 30;
    private const int HeaderBytes = 8;

    private readonly nuint _pageBytes;
    private readonly nuint _dataBytes;
    private nint _consumerPage;
    private nint _producerPages;
    private readonly ulong _mask;

    private MappedRing(nint consumerPage, nint producerPages, nuint pageBytes, uint ringBytes)
    {
        _consumerPage = consumerPage;
        _producerPages = producerPages;
        _pageBytes = pageBytes;
        _dataBytes = pageBytes + 2 * (nuint)ringBytes;
        _mask = ringBytes - 1;
    }

    /// <summary>Maps the ring <paramref name="fd"/> of <paramref name="ringBytes"/> (its
    /// max_entries: a power of two, a whole number of pages).</summary>
    /// <exception cref="ErrnoException">the kernel refused a mapping.</exception>
    public static MappedRing Map(int fd, uint ringBytes)
    {
        nuint page = (nuint)Environment.SystemPageSize;
        nint consumer = Libc.Mmap(0, page, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
        if (consumer == Libc.MAP_FAILED) throw new ErrnoException("mmap ring buffer consumer page", Errno.Last);
        nint producer = Libc.Mmap(0, page + 2 * (nuint)ringBytes, Libc.PROT_READ, Libc.MAP_SHARED, fd, (nint)page);
        if (producer == Libc.MAP_FAILED)
        {
            int errno = Errno.Last;
            Libc.Munmap(consumer, page);
            throw new ErrnoException("mmap ring buffer data", errno);
        }
        return new MappedRing(consumer, producer, page, ringBytes);
    }

    /// <summary>Hands every committed record to <paramref name="onRecord"/> (a span over the ring's
    /// memory, valid only during the call), oldest first, until one still being written or none is
    /// left; then releases their room to the kernel. Returns the records handed on. When the
    /// handler throws, the room up to and including its record is released and the exception goes
    /// on (as libbpf does when a callback fails).</summary>
    public int Consume(int ring, Action<int, ReadOnlySpan<byte>> onRecord) =>
        Consume((ulong*)_consumerPage, (ulong*)_producerPages, (byte*)_producerPages + _pageBytes, _mask, ring, onRecord);

    /// <summary>The read itself, over the ring's positions and data (mapped twice in a row, each
    /// <paramref name="mask"/> + 1 bytes): a function of memory alone, so tests can give it a ring
    /// laid out as the kernel lays one out.</summary>
    internal static int Consume(ulong* consumerPos, ulong* producerPos, byte* data, ulong mask, int ring, Action<int, ReadOnlySpan<byte>> onRecord)
    {
        ulong cons = Volatile.Read(ref *consumerPos);
        ulong start = cons;
        int n = 0;
        try
        {
            ulong prod = Volatile.Read(ref *producerPos);
            while (cons < prod)
            {
                byte* header = data + (cons & mask);
                uint len = Volatile.Read(ref Unsafe.AsRef<uint>(header));
                if ((len & BusyBit) != 0) break; // reserved, not yet committed
                uint size = len & ~(BusyBit | DiscardBit);
                cons += (size + HeaderBytes + 7) & ~7UL;
                if ((len & DiscardBit) == 0)
                {
                    n++;
                    onRecord(ring, new ReadOnlySpan<byte>(header + HeaderBytes, (int)size));
                }
                if (cons >= prod) prod = Volatile.Read(ref *producerPos); // written meanwhile
            }
        }
        finally
        {
            if (cons != start) Volatile.Write(ref *consumerPos, cons);
        }
        return n;
    }

    public void Dispose()
    {
        if (_producerPages != 0) Libc.Munmap(_producerPages, _dataBytes);
        if (_consumerPage != 0) Libc.Munmap(_consumerPage, _pageBytes);
        _producerPages = _consumerPage = 0;
    }
}
