namespace Tcpq.Events;

/// <summary>Receives events, by reference, without copying: the one seam between every source
/// (the ring buffer, the diag sampler, a saved trace) and every consumer (row writers, the tracker).</summary>
public interface IEventSink
{
    void OnEvent(in TcpqEvent e);
}
