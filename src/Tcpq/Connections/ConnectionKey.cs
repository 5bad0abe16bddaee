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
}
