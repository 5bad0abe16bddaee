using System.Runtime.CompilerServices;
using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>What makes one connection: its network namespace and 4-tuple.</summary>
public readonly record struct ConnectionKey(
    uint NetNs, Address16 Source, ushort SourcePort, Address16 Dest, ushort DestPort)
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConnectionKey Of(in TcpqEvent e) =>
        new(e.NetNs, e.SourceAddress, e.SourcePort, e.DestAddress, e.DestPort);

    public ListenerKey Listener
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(NetNs, Dest, DestPort);
    }

    public string SourceText => Source.ToString();

    // The tracker looks a key up for every event: the record's own members compare and hash field
    // by field through EqualityComparer, and hash each address with its bytes swapped. These take
    // the addresses as they lie; the hash stays seeded per process, so clients that choose their
    // addresses and ports cannot aim at one bucket. Inlined, and a multiply-xor mix in place of
    // HashCode.Combine's five rounds: the AOT build called each of these small members apart.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Equals(ConnectionKey other) =>
        SourcePort == other.SourcePort && DestPort == other.DestPort && NetNs == other.NetNs
        && Source.Equals(other.Source) && Dest.Equals(other.Dest);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override int GetHashCode() =>
        KeyHash.Finish(KeyHash.Add(KeyHash.Add(KeyHash.Start(Source.Last8), Dest.Last8),
            Source.First8 ^ Dest.First8 ^ ((ulong)NetNs << 32 | SourcePort | (uint)DestPort << 16)));
}
