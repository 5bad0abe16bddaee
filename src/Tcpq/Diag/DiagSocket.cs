using System.Buffers.Binary;
using Tcpq.Events;

namespace Tcpq.Diag;

/// <summary>The TCP states sock_diag reports (include/net/tcp_states.h).</summary>
public enum TcpState : byte
{
    Established = 1,
    SynSent = 2,
    SynRecv = 3,
    FinWait1 = 4,
    FinWait2 = 5,
    TimeWait = 6,
    Close = 7,
    CloseWait = 8,
    LastAck = 9,
    Listen = 10,
    Closing = 11,
    NewSynRecv = 12,
}

/// <summary>
/// One socket from an inet_diag dump. Addresses are 16 bytes in network order held as a
/// big-endian <see cref="UInt128"/>, IPv4 stored IPv4-mapped (as <see cref="TcpqEvent"/> does), so
/// that equal endpoints compare equal whichever family reported them.
/// For a request socket (SYN_RECV) the kernel reports the listener's port as the local port.
/// </summary>
public readonly record struct DiagSocket(
    byte Family,
    TcpState State,
    UInt128 LocalAddress,
    ushort LocalPort,
    UInt128 RemoteAddress,
    ushort RemotePort,
    ulong Cookie,
    uint RQueue,
    uint WQueue,
    uint Uid,
    uint Inode,
    uint? Drops)
{
    /// <summary>For a listener: the accept queue's length (sk_ack_backlog).</summary>
    public uint Q => RQueue;

    /// <summary>For a listener: the backlog it was given (sk_max_ack_backlog).</summary>
    public uint QMax => WQueue;

    public static readonly UInt128 V4MappedPrefix = (UInt128)0xffff << 32;

    public static UInt128 V4Mapped(ReadOnlySpan<byte> v4) => V4MappedPrefix | BinaryPrimitives.ReadUInt32BigEndian(v4);

    public static bool IsV4Mapped(UInt128 a) => (a >> 32) == 0xffff;

    public static void WriteAddress(UInt128 a, Span<byte> dest16) => BinaryPrimitives.WriteUInt128BigEndian(dest16, a);

    public static Address16 ToAddress16(UInt128 a)
    {
        var r = new Address16();
        WriteAddress(a, r);
        return r;
    }

    public static string AddressToText(UInt128 a)
    {
        Span<byte> b = stackalloc byte[16];
        WriteAddress(a, b);
        return AddressText.ToText(b);
    }
}
