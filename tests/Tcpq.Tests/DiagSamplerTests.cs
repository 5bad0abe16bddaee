using Tcpq.Diag;
using Tcpq.Events;
using Tcpq.Output;
using static Tcpq.Tests.DiagFixtures;

namespace Tcpq.Tests;

public class DiagSamplerTests
{
    private const uint NetNs = 4026532000;
    private const long Ms = 1_000_000;
    private readonly CollectingSink _out = new();

    private DiagSampler Sampler(ushort[]? ports = null, IReadOnlySet<EventKind>? kinds = null) =>
        new(NetNs, ports ?? [], kinds, _out, inodes => new SocketOwners(
            inodes.ToDictionary(i => i, i => new List<SocketOwner> { new(1000 + (int)i, "server") }), 0));

    private static DiagSocket Listener(uint q = 0, uint drops = 0, string address = "127.0.0.1", ushort port = 80, uint qmax = 1) =>
        Socket(TcpState.Listen, address, port, inode: 10, q: q, qmax: qmax, drops: drops, cookie: 99);

    private static DiagSocket Request(ushort clientPort, string local = "127.0.0.1") =>
        Socket(TcpState.SynRecv, local, 80, local, clientPort);

    private static DiagSocket Child(ushort clientPort, uint inode = 0, TcpState state = TcpState.Established, string local = "127.0.0.1") =>
        Socket(state, local, 80, local, clientPort, inode: inode);

    [Fact]
    public void What_is_there_at_the_start_is_the_baseline_not_events()
    {
        var s = Sampler();
        s.Sample(0, [Listener(q: 1, drops: 5), Request(40001), Child(40002)]);
        Assert.Empty(_out.Events);
        s.Sample(100 * Ms, [Listener(q: 1, drops: 5), Request(40001), Child(40002)]);
        Assert.Empty(_out.Events);
    }

    [Fact]
    public void A_connection_is_followed_from_its_request_socket_through_the_accept_queue_to_accept()
    {
        var s = Sampler();
        s.Sample(0, [Listener()]);
        s.Sample(100 * Ms, [Listener(), Request(40001)]);
        s.Sample(200 * Ms, [Listener(q: 1), Child(40001)]);
        s.Sample(300 * Ms, [Listener(q: 0), Child(40001, inode: 555)]);

        Assert.Equal([EventKind.Syn, EventKind.SynAa, EventKind.Accept], _out.Events.Select(e => e.Kind));
        var (syn, aa, accept) = (_out.Events[0], _out.Events[1], _out.Events[2]);
        Assert.Equal((1u, 0u, 1u), (syn.Q0, syn.Q, syn.QMax));
        Assert.Equal("127.0.0.1", AddressText.ToText(syn.SourceAddress));
        Assert.Equal((40001, 80), (syn.SourcePort, syn.DestPort));
        Assert.Equal(NetNs, syn.NetNs);
        Assert.True(aa.Has(EventFlags.Wait));
        Assert.Equal(100ul * Ms, aa.WaitNs); // from the request socket's first sighting
        Assert.Equal((0u, 1u), (aa.Q0, aa.Q));
        Assert.Equal(300ul * Ms, accept.TsNs);
        Assert.Equal(100ul * Ms, accept.WaitNs);
        Assert.True(accept.Has(EventFlags.Task));
        Assert.Equal(1555u, accept.Pid);
        Assert.Equal("server", System.Text.Encoding.ASCII.GetString(((ReadOnlySpan<byte>)accept.Comm).TrimEnd((byte)0)));
    }

    [Fact]
    public void The_drop_counter_rising_is_one_syn_drop_row_with_the_count()
    {
        var s = Sampler();
        s.Sample(0, [Listener(q: 2, drops: 1)]);
        s.Sample(100 * Ms, [Listener(q: 2, drops: 4)]);
        s.Sample(200 * Ms, [Listener(q: 2, drops: 4)]);
        var drop = Assert.Single(_out.Events);
        Assert.Equal(EventKind.SynDrop, drop.Kind);
        Assert.Equal(3u, drop.Attempt);
        Assert.Equal(4u, drop.Drops);
        Assert.True(drop.Has(EventFlags.Attempt | EventFlags.Drops | EventFlags.Queues));
        Assert.Equal(DropReasons.AcceptQueueFull, drop.Reason);
        Assert.Equal((0, 80), (drop.SourcePort, drop.DestPort));
        Assert.Equal("0.0.0.0", AddressText.ToText(drop.SourceAddress));
    }

    [Fact]
    public void A_drop_while_the_accept_queue_has_room_names_no_reason()
    {
        var s = Sampler();
        s.Sample(0, [Listener(q: 0, drops: 0, qmax: 128)]);
        s.Sample(100 * Ms, [Listener(q: 0, drops: 1, qmax: 128)]);
        Assert.Equal(0u, Assert.Single(_out.Events).Reason);
    }

    [Fact]
    public void A_queued_connection_that_vanishes_is_an_accept_if_the_queue_shrank_else_an_abort()
    {
        var s = Sampler();
        s.Sample(0, [Listener(q: 2), Child(40001), Child(40002)]);
        // 40001: accepted and closed between samples (Q fell by one); 40002: reset by its client (Q unchanged)
        s.Sample(100 * Ms, [Listener(q: 1)]);
        Assert.Equal([EventKind.Accept, EventKind.Abort], _out.Events.Select(e => e.Kind));
        Assert.False(_out.Events[0].Has(EventFlags.Task));
    }

    [Fact]
    public void An_accepted_connection_the_application_already_closed_is_an_accept_without_a_process()
    {
        var s = Sampler();
        s.Sample(0, [Listener(q: 1), Child(40001)]);
        s.Sample(100 * Ms, [Listener(q: 0), Child(40001, state: TcpState.FinWait2)]);
        var e = Assert.Single(_out.Events);
        Assert.Equal(EventKind.Accept, e.Kind);
        Assert.False(e.Has(EventFlags.Task));
    }

    [Fact]
    public void A_connection_queued_and_accepted_between_two_samples_is_a_syn_aa_and_an_accept_once()
    {
        var s = Sampler();
        s.Sample(0, [Listener(), Child(40009, inode: 700)]); // already accepted at the start: not an event
        s.Sample(100 * Ms, [Listener(), Child(40009, inode: 700), Child(40001, inode: 555)]);
        s.Sample(200 * Ms, [Listener(), Child(40009, inode: 700), Child(40001, inode: 555)]);
        Assert.Equal([(EventKind.SynAa, 40001), (EventKind.Accept, 40001)], _out.Events.Select(e => (e.Kind, (int)e.SourcePort)));
        var accept = _out.Events[1];
        Assert.Equal(1555u, accept.Pid);
        Assert.False(accept.Has(EventFlags.Wait)); // how long it waited is not known
    }

    [Fact]
    public void An_IPv4_connection_to_a_dual_stack_listener_belongs_to_it()
    {
        var s = Sampler();
        s.Sample(0, [Listener(address: "::")]);
        s.Sample(100 * Ms, [Listener(address: "::", q: 1), Child(40001, local: "::ffff:127.0.0.1")]);
        var aa = Assert.Single(_out.Events);
        Assert.Equal(EventKind.SynAa, aa.Kind);
        Assert.Equal("127.0.0.1", AddressText.ToText(aa.DestAddress));
        Assert.Equal(1u, aa.Q);
    }

    [Fact]
    public void Only_the_ports_and_actions_asked_for_are_written()
    {
        var s = Sampler(ports: [443], kinds: new HashSet<EventKind> { EventKind.SynDrop });
        DiagSocket Other(uint drops) => Socket(TcpState.Listen, "127.0.0.1", 443, inode: 11, q: 0, qmax: 1, drops: drops, cookie: 7);
        s.Sample(0, [Listener(), Other(0)]);
        s.Sample(100 * Ms, [Listener(q: 1, drops: 3), Child(40001), Other(2), Request(40002)]);
        var e = Assert.Single(_out.Events);
        Assert.Equal((EventKind.SynDrop, (ushort)443, 2u), (e.Kind, e.DestPort, e.Attempt));
    }

    [Fact]
    public void A_restarted_listener_starts_a_new_drop_baseline()
    {
        var s = Sampler();
        s.Sample(0, [Listener(drops: 10)]);
        s.Sample(100 * Ms, [Socket(TcpState.Listen, "127.0.0.1", 80, inode: 12, qmax: 1, drops: 0, cookie: 100)]);
        Assert.Empty(_out.Events);
    }
}
