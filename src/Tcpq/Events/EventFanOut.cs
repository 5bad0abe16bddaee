namespace Tcpq.Events;

/// <summary>One source's events to several consumers, in order, by reference: the source is made
/// once and pumped once (top's sampled stream feeds its aggregator and its tracker).</summary>
public sealed class EventFanOut(params IEventSink[] sinks) : IEventSink
{
    public void OnEvent(in TcpqEvent e)
    {
        foreach (var sink in sinks) sink.OnEvent(in e);
    }
}
