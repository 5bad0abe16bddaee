using Tcpq.Aggregates;
using System.Runtime.CompilerServices;
using Tcpq.Bpf;
using Tcpq.Events;

namespace Tcpq.Tests;

/// <summary>The C# mirrors of bpf/tcpq.h against the BTF of the compiled object embedded in tcpq.</summary>
public sealed class EventLayoutTests : IDisposable
{
    private readonly EmbeddedObjectBtf _object = new("tcpq.bpf.o");
    private KernelBtf Btf => _object.Btf;

    public void Dispose() => _object.Dispose();

    private static readonly Dictionary<string, string> EventFields = new()
    {
        ["ts_ns"] = "TsNs", ["wait_ns"] = "WaitNs", ["saddr"] = "SourceAddress", ["daddr"] = "DestAddress",
        ["netns"] = "NetNs", ["pid"] = "Pid", ["q0"] = "Q0", ["q"] = "Q", ["qmax"] = "QMax",
        ["attempt"] = "Attempt", ["reason"] = "Reason", ["drops"] = "Drops", ["sport"] = "SourcePort",
        ["dport"] = "DestPort", ["kind"] = "Kind", ["flags"] = "Flags", ["pad"] = "Pad", ["comm"] = "Comm",
        ["bytes_in"] = "BytesIn", ["bytes_out"] = "BytesOut", ["data_age_ns"] = "DataAgeNs",
        ["closer"] = "Closer", ["reset"] = "Reset", ["pad2"] = "Pad2",
    };

    private static readonly Dictionary<string, string> ConfigFields = new()
    {
        ["nports"] = "NPorts", ["kinds"] = "Kinds", ["mode"] = "Mode", ["pad"] = "Pad", ["ports"] = "Ports",
    };


    [Fact]
    public void TcpqEvent_is_laid_out_as_struct_tcpq_event()
    {
        _object.AssertSameLayout<TcpqEvent>("tcpq_event", EventFields);
        Assert.Equal(TcpqEvent.Size, Unsafe.SizeOf<TcpqEvent>());
    }

    [Fact]
    public void The_rodata_config_is_laid_out_as_struct_tcpq_config()
    {
        _object.AssertSameLayout<TraceConfig.RodataConfig>("tcpq_config", ConfigFields);
    }

    [Fact]
    public void EventKind_has_the_values_of_enum_tcpq_kind()
    {
        var names = new Dictionary<string, EventKind>
        {
            ["TCPQ_SYN"] = EventKind.Syn, ["TCPQ_SYN_DROP"] = EventKind.SynDrop, ["TCPQ_SYN_COOKIE"] = EventKind.SynCookie,
            ["TCPQ_SYNACK_RETRANS"] = EventKind.SynAckRetrans, ["TCPQ_SYN_AA"] = EventKind.SynAa,
            ["TCPQ_ACK_DROP"] = EventKind.AckDrop, ["TCPQ_ACCEPT"] = EventKind.Accept, ["TCPQ_ABORT"] = EventKind.Abort,
            ["TCPQ_APP_CONN"] = EventKind.AppConn, ["TCPQ_APP_REQUEST"] = EventKind.AppRequest, ["TCPQ_APP_CLOSE"] = EventKind.AppClose,
            ["TCPQ_APP_REJECT"] = EventKind.AppReject, ["TCPQ_APP_POOL"] = EventKind.AppPool, ["TCPQ_APP_STARVE"] = EventKind.AppStarve,
            ["TCPQ_APP_GC"] = EventKind.AppGc,
            ["TCPQ_FIRST_READ"] = EventKind.FirstRead, ["TCPQ_FIRST_WRITE"] = EventKind.FirstWrite, ["TCPQ_CLOSE"] = EventKind.Close,
        };
        var values = Btf.EnumValues("tcpq_kind");
        Assert.NotNull(values);
        Assert.Equal(names.Keys.Order(), values.Values.Order());
        Assert.Equal(Enum.GetValues<EventKind>().Order(), names.Values.Order());
        foreach (var (value, name) in values) Assert.Equal((byte)names[name], value);
    }

    [Fact]
    public void EventFlags_has_the_values_of_enum_tcpq_flag()
    {
        var names = new Dictionary<string, EventFlags>
        {
            ["TCPQ_F_QUEUES"] = EventFlags.Queues, ["TCPQ_F_WAIT"] = EventFlags.Wait, ["TCPQ_F_ATTEMPT"] = EventFlags.Attempt,
            ["TCPQ_F_TASK"] = EventFlags.Task, ["TCPQ_F_DROPS"] = EventFlags.Drops,
            ["TCPQ_F_BYTES"] = EventFlags.Bytes, ["TCPQ_F_DATA_AGE"] = EventFlags.DataAge, ["TCPQ_F_CLOSER"] = EventFlags.Closer,
        };
        var values = Btf.EnumValues("tcpq_flag");
        Assert.NotNull(values);
        Assert.Equal(names.Keys.Order(), values.Values.Order());
        Assert.Equal(Enum.GetValues<EventFlags>().Where(f => f != EventFlags.None).Order(), names.Values.Order());
        foreach (var (value, name) in values) Assert.Equal((byte)names[name], value);
    }

    [Fact]
    public void Closer_has_the_values_of_enum_tcpq_closer()
    {
        var names = new Dictionary<string, Closer>
        {
            ["TCPQ_CLOSER_NONE"] = Closer.None, ["TCPQ_CLOSER_APP"] = Closer.Application,
            ["TCPQ_CLOSER_PEER"] = Closer.Peer, ["TCPQ_CLOSER_TIMEOUT"] = Closer.Timeout,
        };
        var values = Btf.EnumValues("tcpq_closer");
        Assert.NotNull(values);
        Assert.Equal(names.Keys.Order(), values.Values.Order());
        Assert.Equal(Enum.GetValues<Closer>().Order(), names.Values.Order());
        foreach (var (value, name) in values) Assert.Equal((byte)names[name], value);
    }

    [Fact]
    public void DropReasons_has_the_values_of_enum_tcpq_reason()
    {
        var names = new Dictionary<string, uint>
        {
            ["TCPQ_REASON_NONE"] = 0, ["TCPQ_REASON_ACCEPT_QUEUE_FULL"] = DropReasons.AcceptQueueFull,
            ["TCPQ_REASON_SYN_QUEUE_FULL"] = DropReasons.SynQueueFull, ["TCPQ_REASON_PEER_RESET"] = DropReasons.PeerReset,
            ["TCPQ_REASON_PEER_CLOSED"] = DropReasons.PeerClosed,
            ["TCPQ_REASON_CONNECTION_LIMIT"] = DropReasons.ConnectionLimit, ["TCPQ_REASON_STARVATION"] = DropReasons.Starvation,
            ["TCPQ_REASON_COOPERATIVE_BLOCKING"] = DropReasons.CooperativeBlocking,
            ["TCPQ_REASON_COOKIE_ACK_OVERFLOW"] = DropReasons.CookieAckOverflow, ["TCPQ_REASON_LISTEN_DROP"] = DropReasons.ListenDrop,
            ["TCPQ_REASON_CHILD_DISCARDED"] = DropReasons.ChildDiscarded, ["TCPQ_REASON_LISTENER_CLOSED"] = DropReasons.ListenerClosed,
        };
        var values = Btf.EnumValues("tcpq_reason");
        Assert.NotNull(values);
        Assert.Equal(names.Keys.Order(), values.Values.Order());
        foreach (var (value, name) in values) Assert.Equal(names[name], value);
    }

    [Fact]
    public void The_running_kernel_names_the_listen_overflow_drop_reason()
    {
        using var vmlinux = KernelBtf.Open(KernelBtf.VmlinuxPath);
        var reasons = vmlinux.EnumValues("skb_drop_reason");
        Assert.NotNull(reasons);
        Assert.Contains("SKB_DROP_REASON_TCP_LISTEN_OVERFLOW", reasons.Values);
        var value = reasons.Single(r => r.Value == "SKB_DROP_REASON_TCP_LISTEN_OVERFLOW").Key;
        Assert.Equal("TCP_LISTEN_OVERFLOW", new DropReasons(reasons).Name(value));
    }
}
