using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Tests;

/// <summary>What the tracker keeps, measured with the process's own heap (GC.GetTotalMemory): run
/// alone, after the tests that run in parallel, whose allocations would count here too.</summary>
[Collection(Name)]
public class TrackerMemoryTests
{
    public const string Name = "heap";

    [Fact]
    public void Keeps_memory_bounded_under_a_million_distinct_SYN_sources()
    {
        var options = new TrackerOptions { MaxConnections = 65536 };
        var tracker = new ConnectionTracker(options);
        var s = new Scenario();
        var e = s.Make(EventKind.Syn, "10.0.0.0", 1, 0);
        e.Attempt = 1;
        e.Flags |= EventFlags.Attempt | EventFlags.Queues;
        e.QMax = 128;
        Span<byte> addr = e.SourceAddress;

        GC.Collect();
        long before = GC.GetTotalMemory(true);
        long peak = 0;
        const int n = 1_000_000;
        for (int i = 0; i < n; i++)
        {
            // 10.x.y.z, a distinct source each, 1 µs apart: a flood no idle timeout can absorb
            addr[13] = (byte)(i >> 16);
            addr[14] = (byte)(i >> 8);
            addr[15] = (byte)i;
            e.SourcePort = (ushort)(1024 + i % 50000);
            e.TsNs = Scenario.Start + (ulong)i * 1000;
            tracker.OnEvent(e);
            Assert.True(tracker.Following <= options.MaxConnections);
            if (i % 100_000 == 99_999) peak = Math.Max(peak, GC.GetTotalMemory(false));
        }
        long after = GC.GetTotalMemory(true);
        tracker.Complete();
        var port = Assert.Single(tracker.Listeners);
        Assert.Equal(n, port.Connections);
        Assert.Equal(n - options.MaxConnections, port.Evicted);
        Assert.Equal(options.MaxConnections, port.StillOpen);
        Assert.Equal(n, port.Syns);
        // 65536 timelines of ~200 bytes plus the dictionary: tens of MB at most, not a million entries
        Assert.True(after - before < 48 << 20, $"retained {(after - before) >> 20} MB");
        Assert.True(peak - before < 128 << 20, $"peak {(peak - before) >> 20} MB");
    }
}

[CollectionDefinition(TrackerMemoryTests.Name, DisableParallelization = true)]
public sealed class HeapTests;
