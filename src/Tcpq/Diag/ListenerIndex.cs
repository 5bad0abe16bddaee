using Tcpq.Events;

namespace Tcpq.Diag;

/// <summary>
/// Finds the listener a request socket or an accepted connection belongs to, by its local
/// address and port: the listener bound to that address, else one bound to the wildcard of the
/// same family, else an IPv6 wildcard (a dual-stack listener also takes IPv4 connections).
/// </summary>
public sealed class ListenerIndex
{
    private readonly Dictionary<(Address16 Address, ushort Port), int> _byEndpoint = [];

    public IReadOnlyList<DiagSocket> Listeners { get; }

    public ListenerIndex(IEnumerable<DiagSocket> sockets, Func<ushort, bool>? portFilter = null)
    {
        var listeners = new List<DiagSocket>();
        foreach (var s in sockets)
        {
            if (s.State != TcpState.Listen || (portFilter is not null && !portFilter(s.LocalPort))) continue;
            // an SO_REUSEPORT group is several listeners on one endpoint: each is listed, and the
            // first one found stands for the endpoint (which member holds a request is not reported)
            _byEndpoint.TryAdd((s.LocalAddress, s.LocalPort), listeners.Count);
            listeners.Add(s);
        }
        Listeners = listeners;
    }

    /// <summary>The index in <see cref="Listeners"/> of the listener for a local endpoint, or -1.</summary>
    public int Find(Address16 localAddress, ushort localPort)
    {
        if (_byEndpoint.TryGetValue((localAddress, localPort), out int i)) return i;
        if (localAddress.IsV4Mapped && _byEndpoint.TryGetValue((Address16.V4Any, localPort), out i)) return i;
        if (_byEndpoint.TryGetValue((default, localPort), out i)) return i; // ::, dual-stack
        return -1;
    }

    /// <summary>Request sockets (SYN_RECV) per listener: its Q0.</summary>
    public uint[] CountRequests(IEnumerable<DiagSocket> sockets)
    {
        var q0 = new uint[Listeners.Count];
        foreach (var s in sockets)
        {
            if (s.State != TcpState.SynRecv) continue;
            int i = Find(s.LocalAddress, s.LocalPort);
            if (i >= 0) q0[i]++;
        }
        return q0;
    }
}
