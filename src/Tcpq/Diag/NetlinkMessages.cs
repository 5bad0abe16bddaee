using System.Buffers.Binary;

namespace Tcpq.Diag;

/// <summary>
/// The wire layout of the netlink and inet_diag messages tcpq sends and reads
/// (include/uapi/linux/netlink.h, inet_diag.h, sock_diag.h). Multi-byte fields are in host order
/// (little-endian here) except ports and addresses, which are in network order.
/// </summary>
public static class NetlinkMessages
{
    // struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }
    public const int HeaderSize = 16;
    public const ushort NLMSG_NOOP = 1, NLMSG_ERROR = 2, NLMSG_DONE = 3, NLMSG_OVERRUN = 4;
    public const ushort SOCK_DIAG_BY_FAMILY = 20;
    public const ushort NLM_F_REQUEST = 0x1, NLM_F_MULTI = 0x2, NLM_F_DUMP = 0x300;

    // struct inet_diag_req_v2 { u8 family, protocol, ext, pad; u32 states; struct inet_diag_sockid id; }
    public const int RequestSize = 56;
    // struct inet_diag_sockid { be16 sport, dport; be32 src[4], dst[4]; u32 if; u32 cookie[2]; }
    public const int SockIdSize = 48;
    // struct inet_diag_msg { u8 family, state, timer, retrans; sockid id; u32 expires, rqueue, wqueue, uid, inode; }
    public const int DiagMsgSize = 72;

    public const byte AF_INET = 2, AF_INET6 = 10, IPPROTO_TCP = 6;

    // attributes after inet_diag_msg: struct rtattr { u16 len; u16 type; }
    public const int AttrHeaderSize = 4;
    public const ushort INET_DIAG_SKMEMINFO = 7;
    /// <summary>The socket's cgroup v2 id (its creator's cgroup): sent with every socket since
    /// Linux 5.7, never asked for.</summary>
    public const ushort INET_DIAG_CGROUP_ID = 21;
    public const int SK_MEMINFO_DROPS = 8;

    /// <summary>The idiag_ext bit that asks for an attribute: 1 &lt;&lt; (type - 1).</summary>
    public const byte ExtSkMemInfo = 1 << (INET_DIAG_SKMEMINFO - 1);

    public static uint StateMask(params ReadOnlySpan<TcpState> states)
    {
        uint mask = 0;
        foreach (var s in states) mask |= 1u << (int)s;
        return mask;
    }

    public static int Align4(int n) => (n + 3) & ~3;

    /// <summary>A dump request for every TCP socket of <paramref name="family"/> in <paramref name="states"/>.</summary>
    public static byte[] DumpRequest(byte family, uint states, byte ext, uint seq)
    {
        var b = new byte[HeaderSize + RequestSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)b.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4), SOCK_DIAG_BY_FAMILY);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(6), NLM_F_REQUEST | NLM_F_DUMP);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), seq);
        var r = b.AsSpan(HeaderSize);
        r[0] = family;
        r[1] = IPPROTO_TCP;
        r[2] = ext;
        BinaryPrimitives.WriteUInt32LittleEndian(r[4..], states);
        return b;
    }
}
