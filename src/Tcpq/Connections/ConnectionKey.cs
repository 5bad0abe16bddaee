using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>What makes one connection: its network namespace and 4-tuple.</summary>
public readonly record struct ConnectionKey(
    uint NetNs, Address16 Source, ushort SourcePort, Address16 Dest, ushort DestPort, byte Generation = 0)
{
    /// <summary>Where the n-th previous connection on this 4-tuple waits for its accept() (see
    /// <see cref="ConnectionTracker"/>); events always come with generation 0.</summary>
    public ConnectionKey Previous(int n) => this with { Generation = (byte)n };

    public static ConnectionKey Of(in TcpqEvent e) =>
        new(e.NetNs, e.SourceAddress, e.SourcePort, e.DestAddress, e.DestPort);

    public ListenerKey Listener => new(NetNs, Dest, DestPort);

    public string SourceText => Source.ToString();
}
