using Tcpq.Events;

namespace Tcpq.Diag;

/// <summary>
/// One socket from an inet_diag dump, its addresses as <see cref="Address16"/> (as events hold them).
/// For a request socket (SYN_RECV) the kernel reports the listener's port as the local port.
/// <see cref="CgroupId"/> is the cgroup v2 id of the process that made the socket (0 when the
/// kernel does not say).
/// </summary>
public readonly record struct DiagSocket(
    byte Family,
    TcpState State,
    Address16 LocalAddress,
    ushort LocalPort,
    Address16 RemoteAddress,
    ushort RemotePort,
    ulong Cookie,
    uint RQueue,
    uint WQueue,
    uint Uid,
    uint Inode,
    uint? Drops,
    ulong CgroupId = 0)
{
    /// <summary>For a listener: the accept queue's length (sk_ack_backlog).</summary>
    public uint Q => RQueue;

    /// <summary>For a listener: the backlog it was given (sk_max_ack_backlog).</summary>
    public uint QMax => WQueue;
}
