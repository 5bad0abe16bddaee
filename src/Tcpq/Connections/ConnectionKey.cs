using System.Buffers.Binary;
using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>What makes one connection: its network namespace and 4-tuple. Addresses are held as
/// two 64-bit halves of the 16-byte (IPv4-mapped) form, so the key is small and compares fast.</summary>
public readonly record struct ConnectionKey(
    uint NetNs, ulong SourceHi, ulong SourceLo, ushort SourcePort, ulong DestHi, ulong DestLo, ushort DestPort,
    byte Generation = 0)
{
    /// <summary>Where the n-th previous connection on this 4-tuple waits for its accept() (see
    /// <see cref="ConnectionTracker"/>); events always come with generation 0.</summary>
    public ConnectionKey Previous(int n) => this with { Generation = (byte)n };

    public static ConnectionKey Of(in TcpqEvent e)
    {
        ReadOnlySpan<byte> s = e.SourceAddress, d = e.DestAddress;
        return new ConnectionKey(
            e.NetNs,
            BinaryPrimitives.ReadUInt64BigEndian(s), BinaryPrimitives.ReadUInt64BigEndian(s[8..]), e.SourcePort,
            BinaryPrimitives.ReadUInt64BigEndian(d), BinaryPrimitives.ReadUInt64BigEndian(d[8..]), e.DestPort);
    }

    public ListenerKey Listener => new(NetNs, DestHi, DestLo, DestPort);

    public string SourceText => AddressHalves.ToText(SourceHi, SourceLo);
}

/// <summary>A listening socket as the events see it: namespace, local address and port. The seed
/// format has neither address nor namespace: both are zero (unknown) there.</summary>
public readonly record struct ListenerKey(uint NetNs, ulong AddressHi, ulong AddressLo, ushort Port)
{
    /// <summary>The address as text, or empty when unknown (all zeros).</summary>
    public string AddressText => AddressHi == 0 && AddressLo == 0 ? "" : AddressHalves.ToText(AddressHi, AddressLo);
}

internal static class AddressHalves
{
    public static string ToText(ulong hi, ulong lo)
    {
        Span<byte> a = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(a, hi);
        BinaryPrimitives.WriteUInt64BigEndian(a[8..], lo);
        return AddressText.ToText(a);
    }
}
