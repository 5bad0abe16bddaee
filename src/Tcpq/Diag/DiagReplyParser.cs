using System.Buffers.Binary;
using Tcpq.Events;
using Tcpq.Interop;
using static Tcpq.Diag.NetlinkMessages;

namespace Tcpq.Diag;

/// <summary>
/// Reads the kernel's replies to a sock_diag dump: one datagram holds one or more netlink
/// messages. Bytes from the kernel are checked like any other input: anything truncated or
/// inconsistent is a <see cref="TcpqException"/> with one line saying what, never an index error.
/// </summary>
public static class DiagReplyParser
{
    /// <summary>Parses one datagram, adding its sockets to <paramref name="sockets"/>. Messages
    /// of another sequence number (a stale reply) are skipped. Returns true once the dump is done.</summary>
    public static bool Parse(ReadOnlySpan<byte> datagram, uint seq, ICollection<DiagSocket> sockets)
    {
        int offset = 0;
        while (datagram.Length - offset >= HeaderSize)
        {
            var rest = datagram[offset..];
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(rest);
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(rest[4..]);
            uint msgSeq = BinaryPrimitives.ReadUInt32LittleEndian(rest[8..]);
            if (len < HeaderSize)
                throw Malformed($"message at byte {offset} claims {len} bytes, less than its own {HeaderSize}-byte header");
            if (len > rest.Length)
                throw Malformed($"message at byte {offset} claims {len} bytes but only {rest.Length} were received (truncated)");
            var payload = rest[HeaderSize..(int)len];
            offset += Math.Min(Align4((int)len), rest.Length);

            if (msgSeq != seq) continue;
            switch (type)
            {
                case NLMSG_DONE:
                    // the dump's own status: a negative errno when it stopped early
                    if (payload.Length >= 4 && BinaryPrimitives.ReadInt32LittleEndian(payload) is int status and < 0)
                        throw KernelError(-status);
                    return true;
                case NLMSG_ERROR:
                    if (payload.Length < 4) throw Malformed("an error message shorter than its error code");
                    int error = BinaryPrimitives.ReadInt32LittleEndian(payload);
                    if (error < 0) throw KernelError(-error);
                    break; // 0: an acknowledgement
                case NLMSG_OVERRUN:
                    throw Malformed("the kernel reported a netlink overrun (data lost)");
                case SOCK_DIAG_BY_FAMILY:
                    sockets.Add(ParseSocket(payload));
                    break;
                default:
                    break; // NOOP and anything newer: not ours to interpret
            }
        }
        if (offset < datagram.Length)
            throw Malformed($"{datagram.Length - offset} trailing bytes, too few for a message header");
        return false;
    }

    /// <summary>One <c>struct inet_diag_msg</c> and its attributes.</summary>
    public static DiagSocket ParseSocket(ReadOnlySpan<byte> m)
    {
        if (m.Length < DiagMsgSize)
            throw Malformed($"an inet_diag message of {m.Length} bytes, less than the {DiagMsgSize} of its fixed part");
        byte family = m[0];
        if (family is not (AF_INET or AF_INET6))
            throw Malformed($"an inet_diag message of address family {family}, neither IPv4 nor IPv6");
        var state = (TcpState)m[1];
        var id = m.Slice(4, SockIdSize);
        ushort sport = BinaryPrimitives.ReadUInt16BigEndian(id);
        ushort dport = BinaryPrimitives.ReadUInt16BigEndian(id[2..]);
        var src = family == AF_INET ? Address16.FromV4(id[4..]) : Address16.FromV6(id[4..]);
        var dst = family == AF_INET ? Address16.FromV4(id[20..]) : Address16.FromV6(id[20..]);
        ulong cookie = BinaryPrimitives.ReadUInt32LittleEndian(id[40..]) | (ulong)BinaryPrimitives.ReadUInt32LittleEndian(id[44..]) << 32;
        var tail = m[52..];
        uint rqueue = BinaryPrimitives.ReadUInt32LittleEndian(tail[4..]);
        uint wqueue = BinaryPrimitives.ReadUInt32LittleEndian(tail[8..]);
        uint uid = BinaryPrimitives.ReadUInt32LittleEndian(tail[12..]);
        uint inode = BinaryPrimitives.ReadUInt32LittleEndian(tail[16..]);

        uint? drops = null;
        ulong cgroupId = 0;
        var attrs = m[DiagMsgSize..];
        int at = 0;
        while (attrs.Length - at >= AttrHeaderSize)
        {
            ushort alen = BinaryPrimitives.ReadUInt16LittleEndian(attrs[at..]);
            ushort atype = BinaryPrimitives.ReadUInt16LittleEndian(attrs[(at + 2)..]);
            if (alen < AttrHeaderSize || alen > attrs.Length - at)
                throw Malformed($"attribute {atype} of a socket claims {alen} bytes, {attrs.Length - at} left");
            var value = attrs.Slice(at + AttrHeaderSize, alen - AttrHeaderSize);
            // older kernels send fewer counters; without SK_MEMINFO_DROPS there is no drop count
            if ((atype & 0x3fff) == INET_DIAG_SKMEMINFO && value.Length >= (SK_MEMINFO_DROPS + 1) * 4)
                drops = BinaryPrimitives.ReadUInt32LittleEndian(value[(SK_MEMINFO_DROPS * 4)..]);
            else if ((atype & 0x3fff) == INET_DIAG_CGROUP_ID && value.Length >= 8)
                cgroupId = BinaryPrimitives.ReadUInt64LittleEndian(value);
            at += Align4(alen);
        }
        return new DiagSocket(family, state, src, sport, dst, dport, cookie, rqueue, wqueue, uid, inode, drops, cgroupId);
    }

    private static TcpqException Malformed(string what) =>
        new(ExitCode.Failure, $"malformed sock_diag reply from the kernel: {what}");

    internal static TcpqException KernelError(int errno) => errno switch
    {
        Errno.EPERM or Errno.EACCES => new TcpqException(ExitCode.NoPermission, "sock_diag dump: permission denied"),
        Errno.ENOENT => new TcpqException(ExitCode.UnsupportedKernel, "sock_diag dump: this kernel has no TCP socket diagnostics (module tcp_diag not loaded?)"),
        _ => new TcpqException(ExitCode.Failure, $"sock_diag dump failed: {Errno.Text(errno)}"),
    };
}
