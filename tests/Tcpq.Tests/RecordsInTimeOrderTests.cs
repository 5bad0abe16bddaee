using System.Runtime.InteropServices;
using Tcpq.Bpf;
using Tcpq.Events;

namespace Tcpq.Tests;

/// <summary>The per-CPU rings' records, merged back into one stream in time order: what a read
/// hands on, what it keeps for the next, and how big each CPU's ring is.</summary>
public class RecordsInTimeOrderTests
{
    private sealed class Collect : IEventSink
    {
        public List<ulong> Times { get; } = [];
        public void OnEvent(in TcpqEvent e) => Times.Add(e.TsNs);
    }

    private sealed class ThrowAt(ulong ts) : IEventSink
    {
        public List<ulong> Times { get; } = [];
        public void OnEvent(in TcpqEvent e)
        {
            if (e.TsNs == ts) throw new IOException("the reader went away");
            Times.Add(e.TsNs);
        }
    }

    private static void Add(RecordsInTimeOrder records, int ring, params ulong[] times)
    {
        foreach (var ts in times)
        {
            var e = TestEvents.Syn();
            e.TsNs = ts;
            records.Add(ring, MemoryMarshal.AsBytes(new ReadOnlySpan<TcpqEvent>(in e)));
        }
    }

    [Fact]
    public void Two_CPUs_records_come_out_oldest_first()
    {
        var records = new RecordsInTimeOrder(2);
        Add(records, 0, 10, 30, 31, 60);
        Add(records, 1, 20, 21, 40, 50);
        var sink = new Collect();

        Assert.Equal(8, records.HandOnAll(sink));

        Assert.Equal([10, 20, 21, 30, 31, 40, 50, 60], sink.Times);
        Assert.Equal(0, records.Staged);
    }

    [Fact]
    public void A_read_keeps_what_was_stamped_after_it_began_for_the_next_one()
    {
        var records = new RecordsInTimeOrder(3);
        Add(records, 0, 10, 100);
        Add(records, 2, 20, 90, 110);
        var sink = new Collect();

        Assert.Equal(2, records.HandOn(beforeNs: 50, sink));
        Assert.Equal(3, records.Staged);

        // meanwhile CPU 1 committed one stamped before those kept: it goes first
        Add(records, 1, 60);
        Add(records, 0, 120);
        Assert.Equal(4, records.HandOn(beforeNs: 115, sink));

        Assert.Equal([10, 20, 60, 90, 100, 110], sink.Times);
        Assert.Equal(1, records.Staged);
    }

    [Fact]
    public void Many_reads_of_four_CPUs_give_the_sorted_stream()
    {
        var random = new Random(21);
        var records = new RecordsInTimeOrder(4);
        var sink = new Collect();
        var all = new List<ulong>();
        var last = new ulong[4];
        ulong now = 0;
        for (int read = 0; read < 200; read++)
        {
            // between two reads each CPU writes its records in order, some with equal times
            for (int n = random.Next(0, 40); n > 0; n--)
            {
                int cpu = random.Next(4);
                last[cpu] = Math.Max(last[cpu], now) + (ulong)random.Next(0, 3);
                Add(records, cpu, last[cpu]);
                all.Add(last[cpu]);
            }
            now += 20;
            records.HandOn(beforeNs: now, sink);
        }
        records.HandOnAll(sink);

        Assert.Equal(all.Order(), sink.Times);
    }

    [Fact]
    public void Records_of_an_older_layout_are_skipped()
    {
        var records = new RecordsInTimeOrder(1);
        records.Add(0, new byte[TcpqEvent.Size - 8]);
        Assert.Equal(0, records.Staged);
    }

    [Fact]
    public void A_busy_CPU_grows_its_array_and_loses_nothing()
    {
        var records = new RecordsInTimeOrder(2);
        var times = Enumerable.Range(1, 10_000).Select(i => (ulong)i * 2).ToArray();
        Add(records, 1, times);
        Add(records, 0, 3);
        var sink = new Collect();

        Assert.Equal(10_001, records.HandOnAll(sink));

        Assert.Equal(10_001, sink.Times.Count);
        Assert.True(sink.Times.SequenceEqual(sink.Times.Order()));
    }

    [Fact]
    public void When_the_sink_throws_the_rest_stays_for_the_next_read()
    {
        var records = new RecordsInTimeOrder(2);
        Add(records, 0, 1, 3, 5);
        Add(records, 1, 2, 4);

        Assert.Throws<IOException>(() => records.HandOnAll(new ThrowAt(3)));
        Assert.Equal(3, records.HandedOn); // 1, 2 and the 3 the sink threw on: the tracer's count

        var sink = new Collect();
        records.HandOnAll(sink);
        Assert.Equal([4, 5], sink.Times);
        Assert.Equal(5, records.HandedOn);
    }

    [Fact]
    public void Runs_of_three_CPUs_interleave_where_each_one_overtakes_the_other()
    {
        var records = new RecordsInTimeOrder(3);
        Add(records, 0, 1, 2, 7, 8, 12);
        Add(records, 1, 3, 4, 9);
        Add(records, 2, 5, 6, 10, 11);
        var sink = new Collect();

        Assert.Equal(12, records.HandOnAll(sink));

        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], sink.Times);
    }

    [Fact]
    public void Equal_times_on_every_CPU_are_all_handed_on()
    {
        var records = new RecordsInTimeOrder(2);
        Add(records, 0, 5, 5, 5, 9);
        Add(records, 1, 5, 5, 7);
        var sink = new Collect();

        Assert.Equal(5, records.HandOn(beforeNs: 6, sink));

        Assert.Equal([5, 5, 5, 5, 5], sink.Times);
        Assert.Equal(2, records.Staged);
    }

    [Fact]
    public void A_ring_out_of_order_in_itself_loses_nothing()
    {
        // a program nested on the CPU (a softirq) reserved between the outer one's time and its
        // reserve: its later time comes first in the ring
        var records = new RecordsInTimeOrder(2);
        Add(records, 0, 10, 40, 30, 50);
        Add(records, 1, 20, 35);
        var sink = new Collect();

        records.HandOn(beforeNs: 45, sink);
        records.HandOnAll(sink);

        Assert.Equal([10, 20, 35, 40, 30, 50], sink.Times); // 30 behind 40, as the ring had it
        Assert.Equal(6, records.HandedOn);
        Assert.Equal(0, records.Staged);
    }

    [Fact]
    public void A_record_held_back_behind_the_read_waits_in_its_ring_for_the_next_read()
    {
        // 60 was stamped after the read began; 30 came after it in the same ring (nested): both wait
        var records = new RecordsInTimeOrder(1);
        Add(records, 0, 10, 60, 30);
        var sink = new Collect();

        Assert.Equal(1, records.HandOn(beforeNs: 50, sink));
        Assert.Equal(2, records.Staged);
        Assert.Equal(2, records.HandOn(beforeNs: 100, sink));

        Assert.Equal([10, 60, 30], sink.Times);
    }

    private sealed class Count : IEventSink
    {
        public long Events;
        public void OnEvent(in TcpqEvent e) => Events++;
    }

    [Fact]
    public void Reads_that_keep_records_reuse_the_arrays_without_allocating()
    {
        // every read keeps part of what it got: the kept records move to the front of their
        // arrays, read after read, and the arrays stop growing once they hold the busiest read
        var records = new RecordsInTimeOrder(2);
        var e = TestEvents.Syn();
        var sink = new Count();
        ulong now = 0;
        void Read()
        {
            for (int i = 0; i < 100; i++)
            {
                e.TsNs = now + (ulong)i;
                records.Add(i % 2, MemoryMarshal.AsBytes(new ReadOnlySpan<TcpqEvent>(in e)));
            }
            records.HandOn(beforeNs: now + 70, sink); // keeps 30
            now += 100;
        }
        for (int i = 0; i < 10; i++) Read();

        long reads = 10;
        long allocated = SteadyAllocations.Fewest(() =>
        {
            for (int i = 0; i < 1000; i++) Read();
            reads += 1000;
        });

        Assert.Equal(0, allocated);
        Assert.Equal(30, records.Staged);
        Assert.Equal(reads * 100 - 30, sink.Events);
        Assert.Equal(sink.Events, records.HandedOn);
    }

    [Theory]
    [InlineData(8192, 2, 4096)]     // the default on this machine: 8 MiB in all, 4 MiB a CPU
    [InlineData(4096, 2, 2048)]     // 4 MiB in all, as with one ring
    [InlineData(4096, 64, 256)]     // never under 256 KiB a CPU: one CPU may have every event
    [InlineData(65536, 3, 16384)]   // 3 CPUs: a quarter each (a power of two), 48 MiB in all
    [InlineData(4, 2, 4)]           // less than 256 KiB in all: each CPU the total, at least a page
    [InlineData(1024, 1, 1024)]
    [InlineData(1048576, 2, 524288)] // the largest total: 1 GiB in all
    [InlineData(8192, 6, 1024)]     // 6 CPUs count as 8: an eighth each, a power of two
    public void Each_CPU_has_its_share_of_the_ring_buffer(int totalKb, int cpus, int perCpuKb) =>
        Assert.Equal((uint)perCpuKb * 1024, TraceConfig.RingBytesPerCpu(totalKb, cpus, pageBytes: 4096));

    [Fact]
    public void A_CPU_ring_is_never_smaller_than_a_page() =>
        Assert.Equal(65536u, TraceConfig.RingBytesPerCpu(4, 2, pageBytes: 65536)); // arm64 with 64 KiB pages

    [Fact]
    public void Every_size_the_command_line_accepts_gives_rings_the_kernel_accepts()
    {
        // BPF_MAP_TYPE_RINGBUF: a power of two and a whole number of pages
        for (int kb = 4; kb <= 1048576; kb *= 2)
            foreach (int cpus in (int[])[1, 2, 3, 4, 6, 64, 1024])
                foreach (int page in (int[])[4096, 16384, 65536])
                {
                    Assert.True(TraceConfig.IsValidRingBufferKb(kb));
                    uint bytes = TraceConfig.RingBytesPerCpu(kb, cpus, page);
                    Assert.True(uint.IsPow2(bytes) && bytes % page == 0, $"{kb} KiB, {cpus} CPUs, {page}-byte pages: {bytes}");
                    Assert.True(bytes >= Math.Min((uint)kb, TraceConfig.MinRingPerCpuKb) * 1024u);
                }
    }
}
