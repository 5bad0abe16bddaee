using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>What makes one connection: its network namespace and 4-tuple.</summary>
public readonly record struct ConnectionKey(
    uint NetNs, Address16 Source, ushort SourcePort, Address16 Dest, ushort DestPort)
{
    public static ConnectionKey Of(in TcpqEvent e) =>
        new(e.NetNs, e.SourceAddress, e.SourcePort, e.DestAddress, e.DestPort);

    public ListenerKey Listener => new(NetNs, Dest, DestPort);

    public string SourceText => Source.ToString();

    // The tracker looks a key up for every event: the record's own members compare and hash field
    // by field through EqualityComparer, and hash each address with its bytes swapped. These take
    // the addresses as they lie; the hash stays seeded per process (HashCode), so clients that
    // choose their addresses and ports cannot aim at one bucket.
    public bool Equals(ConnectionKey other) =>
        SourcePort == other.SourcePort && DestPort == other.DestPort && NetNs == other.NetNs
        && Source.Equals(other.Source) && Dest.Equals(other.Dest);

    public override int GetHashCode() =>
        HashCode.Combine(Source.Last8, Dest.Last8, Source.First8 ^ Dest.First8, SourcePort | (uint)DestPort << 16, NetNs);
}
