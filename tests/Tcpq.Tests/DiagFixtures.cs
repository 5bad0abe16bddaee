using System.Buffers.Binary;
using System.Net;
using Tcpq.Diag;
using Tcpq.Events;
using static Tcpq.Diag.NetlinkMessages;

namespace Tcpq.Tests;

/// <summary>Netlink replies: recorded from a real kernel (6.18) once, and built by hand from the
/// struct layouts, for the parser tests.</summary>
internal static class DiagFixtures
{
    public const uint RecordedSeq = 7;

    // A namespace with 127.0.0.1:8080 (backlog 1, two connections queued, a third's SYN dropped once)
    // and [::1]:8443 (backlog 5); a dump of LISTEN sockets with INET_DIAG_SKMEMINFO, seq 7.
    public static readonly byte[] RecordedV4 = Convert.FromHexString(
        "a40000001400020007000000fc3e0000020a00001f9000007f000001000000000000000000000000000000000000000000000000000000000000000008100000000000000000000002000000010000000000000042700100050008000000000008000f00000000000c0015000100000000000000060016005200000028000700000000000000020000000000004000000000000000000000000000000000000001000000");
    public static readonly byte[] RecordedV6 = Convert.FromHexString(
        "ac0000001400020007000000fc3e00000a0a000020fb000000000000000000000000000000000001000000000000000000000000000000000000000009100000000000000000000000000000050000000000000043700100050008000000000005000b000100000008000f00000000000c0015000100000000000000060016001200000028000700000000000000020000000000004000000000000000000000000000000000000000000000");
    public static readonly byte[] RecordedDone = Convert.FromHexString("140000000300020007000000fc3e000000000000");

    public static Address16 Addr(string text)
    {
        var ip = IPAddress.Parse(text);
        return ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? Address16.FromV4(ip.GetAddressBytes()) : Address16.FromV6(ip.GetAddressBytes());
    }

    public static DiagSocket Socket(TcpState state, string local, ushort localPort, string remote = "0.0.0.0", ushort remotePort = 0,
        uint inode = 0, uint q = 0, uint qmax = 0, uint? drops = null, ulong cookie = 0, uint uid = 0)
    {
        var l = Addr(local);
        return new DiagSocket(l.IsV4Mapped ? AF_INET : AF_INET6, state, l, localPort, Addr(remote), remotePort,
            cookie, q, qmax, uid, inode, drops);
    }

    /// <summary>A SOCK_DIAG_BY_FAMILY message for <paramref name="s"/>, as the kernel lays it out.</summary>
    public static byte[] Message(in DiagSocket s, uint seq, int? memInfoCounters = 9)
    {
        int attr = s.Drops is null || memInfoCounters is null ? 0 : AttrHeaderSize + 4 * memInfoCounters.Value;
        var b = new byte[HeaderSize + DiagMsgSize + attr];
        Header(b, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, seq);
        var m = b.AsSpan(HeaderSize);
        m[0] = s.Family;
        m[1] = (byte)s.State;
        BinaryPrimitives.WriteUInt16BigEndian(m[4..], s.LocalPort);
        BinaryPrimitives.WriteUInt16BigEndian(m[6..], s.RemotePort);
        WriteAddress(m[8..], s.Family, s.LocalAddress);
        WriteAddress(m[24..], s.Family, s.RemoteAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(m[44..], (uint)s.Cookie);
        BinaryPrimitives.WriteUInt32LittleEndian(m[48..], (uint)(s.Cookie >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(m[56..], s.RQueue);
        BinaryPrimitives.WriteUInt32LittleEndian(m[60..], s.WQueue);
        BinaryPrimitives.WriteUInt32LittleEndian(m[64..], s.Uid);
        BinaryPrimitives.WriteUInt32LittleEndian(m[68..], s.Inode);
        if (attr > 0)
        {
            var a = m[DiagMsgSize..];
            BinaryPrimitives.WriteUInt16LittleEndian(a, (ushort)attr);
            BinaryPrimitives.WriteUInt16LittleEndian(a[2..], INET_DIAG_SKMEMINFO);
            if (memInfoCounters > SK_MEMINFO_DROPS)
                BinaryPrimitives.WriteUInt32LittleEndian(a[(AttrHeaderSize + 4 * SK_MEMINFO_DROPS)..], s.Drops!.Value);
        }
        return b;
    }

    public static byte[] Done(uint seq, int status = 0)
    {
        var b = new byte[HeaderSize + 4];
        Header(b, NLMSG_DONE, NLM_F_MULTI, seq);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(HeaderSize), status);
        return b;
    }

    public static byte[] Error(uint seq, int error)
    {
        var b = new byte[HeaderSize + 4 + HeaderSize];
        Header(b, NLMSG_ERROR, 0, seq);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(HeaderSize), error);
        return b;
    }

    private static void Header(Span<byte> b, ushort type, ushort flags, uint seq)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)b.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(b[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(b[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], seq);
        BinaryPrimitives.WriteUInt32LittleEndian(b[12..], 4242);
    }

    private static void WriteAddress(Span<byte> dest, byte family, Address16 a)
    {
        ReadOnlySpan<byte> full = a;
        if (family == AF_INET) full[12..].CopyTo(dest);
        else full.CopyTo(dest);
    }
}
