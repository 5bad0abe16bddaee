using Tcpq.Aggregates;
using Tcpq.Bpf;
using Tcpq.Events;

namespace Tcpq.Tests;

/// <summary>Counting mode's layouts (bpf/tcpq.h, bpf/count_slots.h) against the BTF of the compiled
/// count.bpf.o embedded in tcpq, and its counters against the counting rule: each kernel counter
/// is one kind of row, named once.</summary>
public sealed class CountLayoutTests : IDisposable
{
    private readonly EmbeddedObjectBtf _object = new("count.bpf.o");
    private KernelBtf Btf => _object.Btf;

    public void Dispose() => _object.Dispose();

    [Fact]
    public void The_slots_are_laid_out_as_their_structs()
    {
        _object.AssertSameLayout<CountingPrograms.SlotInfo>("tcpq_slot_info", new()
        {
            ["sk"] = "Sk", ["cookie"] = "Cookie", ["opened_ns"] = "OpenedNs", ["closed_ns"] = "ClosedNs", ["cgroup_id"] = "CgroupId", ["addr"] = "Address",
            ["netns"] = "NetNs", ["q_base"] = "QBase", ["q_at_close"] = "QAtClose", ["port"] = "Port", ["family"] = "Family", ["state"] = "State",
        });
        _object.AssertSameLayout<CountingPrograms.SlotLive>("tcpq_slot_live", new()
        {
            ["cookie"] = "Cookie", ["ok"] = "Ok", ["state"] = "State", ["q"] = "Q", ["q0"] = "Q0", ["qmax"] = "QMax", ["pad"] = "Pad",
        });
        _object.AssertSameLayout<CountingPrograms.SlotMeta>("tcpq_slot_meta", new() { ["high"] = "High", ["pad"] = "Pad", ["overflowed"] = "Overflowed" });
        _object.AssertSameLayout<CountingPrograms.KernelDrop>("tcpq_kernel_drop", new() { ["slot"] = "Slot", ["reason"] = "Reason" });
        _object.AssertSameLayout<KernelCounters.SlotCounts>("tcpq_slot_counts", new()
        {
            ["n"] = "N", ["peak_q"] = "PeakQ", ["peak_q0"] = "PeakQ0", ["handshake"] = "Handshake", ["queue_wait"] = "QueueWait", ["syn_to_accept"] = "SynToAccept",
        });
        _object.AssertSameLayout<KernelCounters.Histogram>("tcpq_agg_hist", new() { ["count"] = "Count", ["sum_ns"] = "SumNs", ["buckets"] = "Buckets" });
        _object.AssertSameLayout<KernelCounters.SlotKey>("slot_key", new() { ["addr"] = "Address", ["netns"] = "NetNs", ["port"] = "Port", ["pad"] = "Pad" });
        Assert.Equal(Log2Histogram.Buckets, KernelCounters.Buckets);
    }

    [Fact]
    public void Each_kernel_counter_is_named_once_and_counts_one_kind_of_row()
    {
        var values = Btf.EnumValues("tcpq_counter");
        Assert.NotNull(values);
        // TCPQ_C_SYN_DROP_AQF <-> SynDropAcceptQueueFull...: the C# names say the same as the C ones
        var expected = Enum.GetValues<KernelCounters.Counter>().ToDictionary(c => (uint)c, c => CName(c));
        Assert.Equal(expected.OrderBy(e => e.Key), values.OrderBy(v => v.Key));

        foreach (var c in Enum.GetValues<KernelCounters.Counter>().Where(c => c < KernelCounters.Counter.Count))
        {
            var row = KernelCounters.CounterRows[(int)c];
            bool lost = c is KernelCounters.Counter.Missed or KernelCounters.Counter.Uncounted;
            Assert.True(lost == row is null, $"{c}: {(lost ? "what counting missed is not a row" : "has no row")}");
            if (row is not { } r) continue;
            // counted once through the counting rule, it moves its listener's figures
            var a = new ListenerAggregate(default);
            CountingRule.Count(a, r.Kind, r.Reason, 3);
            long moved = a.Syns + a.SynCookies + a.SynAckRetransmits + a.Handshakes + a.Accepts + a.AllDrops + a.Aborts.Values.Sum();
            Assert.True(moved == 3, $"{c} -> ({r.Kind}, {r.Reason:x}) moved {moved}");
        }
    }

    private static string CName(KernelCounters.Counter c) => c switch
    {
        KernelCounters.Counter.Count => "TCPQ_COUNTERS",
        KernelCounters.Counter.SynAckRetrans => "TCPQ_C_SYNACK_RETRANS",
        KernelCounters.Counter.SynDropAcceptQueueFull => "TCPQ_C_SYN_DROP_AQF",
        KernelCounters.Counter.SynDropSynQueueFull => "TCPQ_C_SYN_DROP_SQF",
        KernelCounters.Counter.AckDropAcceptQueueFull => "TCPQ_C_ACK_DROP_AQF",
        _ => "TCPQ_C_" + string.Concat(c.ToString().Select((ch, i) => i > 0 && char.IsUpper(ch) ? "_" + ch : ch.ToString())).ToUpperInvariant(),
    };
}
