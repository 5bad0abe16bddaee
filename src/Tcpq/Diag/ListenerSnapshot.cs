using Tcpq.Events;

namespace Tcpq.Diag;

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
                who, who.Count > 0 ? null : WhyNoOwner(l, owners)) { CgroupId = l.CgroupId });
        }
        return rows;
    }

    private static string WhyNoOwner(DiagSocket l, SocketOwners owners) =>
        l.Inode == 0 ? "none (kernel socket)"
        : owners.UnreadableProcesses > 0 ? $"unknown (uid {l.Uid}; {owners.UnreadableProcesses} processes not readable: permission denied)"
        : "none visible in /proc";
}
