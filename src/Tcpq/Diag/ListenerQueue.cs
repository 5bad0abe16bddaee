using Tcpq.Events;

namespace Tcpq.Diag;

/// <summary>One listening socket at one moment: its queues, drop counter and owners.</summary>
/// <param name="Q0">Request sockets in SYN_RECV (handshakes under way).</param>
/// <param name="Q">Connections established and waiting in the accept queue.</param>
/// <param name="QMax">The backlog given to listen().</param>
/// <param name="Drops">The socket's drop counter (sk_drops), null when the kernel does not say.</param>
/// <param name="OwnersUnknown">Why <paramref name="Owners"/> is empty, when it is.</param>
public sealed record ListenerQueue(
    uint NetNs,
    Address16 LocalAddress,
    ushort LocalPort,
    uint Q0,
    uint Q,
    uint QMax,
    uint? Drops,
    uint Uid,
    ulong Inode,
    IReadOnlyList<SocketOwner> Owners,
    string? OwnersUnknown)
{
    public string LocalAddressText => LocalAddress.ToString();

    /// <summary>How full the accept queue is; a queue over its backlog counts above 1.</summary>
    public double Fill => QMax == 0 ? (Q > 0 ? double.PositiveInfinity : 0) : (double)Q / QMax;

    /// <summary>Fullest first, then the most queued, dropped and half-open; then by place.</summary>
    public static int CompareFullestFirst(ListenerQueue a, ListenerQueue b)
    {
        int c = b.Fill.CompareTo(a.Fill);
        if (c == 0) c = b.Q.CompareTo(a.Q);
        if (c == 0) c = (b.Drops ?? 0).CompareTo(a.Drops ?? 0);
        if (c == 0) c = b.Q0.CompareTo(a.Q0);
        if (c == 0) c = a.NetNs.CompareTo(b.NetNs);
        if (c == 0) c = a.LocalPort.CompareTo(b.LocalPort);
        if (c == 0) c = a.LocalAddress.CompareTo(b.LocalAddress);
        return c;
    }
}

/// <summary>Turns one namespace's dump into <see cref="ListenerQueue"/> rows.</summary>
public static class ListenerSnapshot
{
    /// <summary>The states one dump asks for: listeners and request sockets.</summary>
    public static readonly uint States = NetlinkMessages.StateMask(TcpState.Listen, TcpState.SynRecv);

    /// <summary>Dumps the namespace the calling thread is in.</summary>
    public static (uint NetNs, List<DiagSocket> Sockets) Dump()
    {
        using var client = SockDiagClient.Open();
        return (NetNamespaces.CurrentInode(), client.DumpBoth(States, withDrops: true));
    }

    public static List<ListenerQueue> Build(uint netns, IReadOnlyList<DiagSocket> sockets, SocketOwners owners)
    {
        var index = new ListenerIndex(sockets);
        var q0 = index.CountRequests(sockets);
        var rows = new List<ListenerQueue>(index.Listeners.Count);
        for (int i = 0; i < index.Listeners.Count; i++)
        {
            var l = index.Listeners[i];
            var who = owners.Of(l.Inode);
            rows.Add(new ListenerQueue(netns, l.LocalAddress, l.LocalPort, q0[i], l.Q, l.QMax, l.Drops, l.Uid, l.Inode,
                who, who.Count > 0 ? null : WhyNoOwner(l, owners)));
        }
        return rows;
    }

    private static string WhyNoOwner(DiagSocket l, SocketOwners owners) =>
        l.Inode == 0 ? "none (kernel socket)"
        : owners.UnreadableProcesses > 0 ? $"unknown (uid {l.Uid}; {owners.UnreadableProcesses} processes not readable: permission denied)"
        : "none visible in /proc";
}
