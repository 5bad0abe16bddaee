using Tcpq.Interop;

namespace Tcpq.Tests;

/// <summary>The ring reader over memory laid out as kernel/bpf/ringbuf.c lays out a ring: an 8-byte
/// header per record (its length, the busy and discard bits), records 8-byte aligned, the data
/// mapped twice in a row so a record that wraps is contiguous.</summary>
public sealed unsafe class MappedRingTests
{
    private const uint Busy = 1u << 31;
    private const uint Discard = 1u << 30;

    /// <summary>A ring of <paramref name="size"/> bytes, its data twice in a row, and its positions.</summary>
    private sealed class FakeRing(int size)
    {
        public readonly byte[] Data = new byte[2 * size];
        public ulong Consumer;
        public ulong Producer;

        /// <summary>Writes a record of <paramref name="payload"/> at the producer position, as committed
        /// (or with <paramref name="flags"/>), in both copies of the data.</summary>
        public void Write(byte[] payload, uint flags = 0)
        {
            var record = new byte[8 + payload.Length];
            BitConverter.TryWriteBytes(record.AsSpan(0, 4), (uint)payload.Length | flags);
            payload.CopyTo(record, 8);
            for (int i = 0; i < record.Length; i++)
            {
                int at = (int)((Producer + (ulong)i) % (ulong)size);
                Data[at] = Data[at + size] = record[i];
            }
            Producer += (ulong)((record.Length + 7) & ~7);
        }

        public List<byte[]> Read(Action<int, ReadOnlySpan<byte>>? also = null)
        {
            var got = new List<byte[]>();
            fixed (byte* data = Data)
            fixed (ulong* c = &Consumer, p = &Producer)
                MappedRing.Consume(c, p, data, (ulong)size - 1, 0, (_, r) => { got.Add(r.ToArray()); also?.Invoke(0, r); });
            return got;
        }
    }

    [Fact]
    public void Committed_records_are_read_in_order_and_their_room_released()
    {
        var ring = new FakeRing(64);
        ring.Write([1, 2, 3]);
        ring.Write([4, 5, 6, 7, 8, 9, 10, 11, 12]);
        var got = ring.Read();
        Assert.Equal([[1, 2, 3], [4, 5, 6, 7, 8, 9, 10, 11, 12]], got);
        Assert.Equal(16UL + 24UL, ring.Consumer);
        Assert.Empty(ring.Read());
    }

    [Fact]
    public void A_record_still_being_written_stops_the_read_until_it_is_committed()
    {
        var ring = new FakeRing(64);
        ring.Write([1]);
        ring.Write([2], Busy);
        ring.Write([3]);
        Assert.Equal([[1]], ring.Read());
        Assert.Equal(16UL, ring.Consumer);
        ring.Data[16 + 3] = ring.Data[64 + 16 + 3] = 0; // committed: the busy bit cleared
        Assert.Equal([[2], [3]], ring.Read());
    }

    [Fact]
    public void A_discarded_record_is_skipped_and_its_room_released()
    {
        var ring = new FakeRing(64);
        ring.Write([1]);
        ring.Write([2], Discard);
        ring.Write([3]);
        Assert.Equal([[1], [3]], ring.Read());
        Assert.Equal(ring.Producer, ring.Consumer);
    }

    [Fact]
    public void A_record_that_wraps_around_the_end_is_read_whole()
    {
        var ring = new FakeRing(32);
        ring.Write(new byte[16]); // 24 bytes: the next record begins 8 bytes before the end
        Assert.Single(ring.Read());
        byte[] wrapping = [.. Enumerable.Range(1, 12).Select(i => (byte)i)];
        ring.Write(wrapping);
        Assert.Equal([wrapping], ring.Read());
        Assert.Equal(24UL + 24UL, ring.Consumer);
    }

    [Fact]
    public void A_handler_that_throws_releases_the_room_up_to_its_record()
    {
        var ring = new FakeRing(64);
        ring.Write([1]);
        ring.Write([2]);
        ring.Write([3]);
        Assert.Throws<InvalidOperationException>(() => ring.Read((_, r) => { if (r[0] == 2) throw new InvalidOperationException(); }));
        Assert.Equal(32UL, ring.Consumer);
        Assert.Equal([[3]], ring.Read());
    }
}
