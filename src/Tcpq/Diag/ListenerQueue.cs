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

    /// <summary>The socket's cgroup v2 id (its creator's), 0 when unknown.</summary>
    public ulong CgroupId { get; init; }

    /// <summary>The container and pod it runs in; null for the host's (or when not looked up).</summary>
    public Workload? Workload { get; init; }

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
