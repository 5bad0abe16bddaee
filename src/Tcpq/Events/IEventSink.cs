namespace Tcpq.Events;

/// <summary>Receives events, by reference, without copying: the one seam between every source
/// (the ring buffer, the diag sampler, a saved trace) and every consumer (row writers, the tracker).</summary>
public interface IEventSink
{
    void OnEvent(in TcpqEvent e);

    /// <summary>A sink that keeps nothing: for a source whose events are not wanted (the kernel's
    /// aggregates, which count in maps; the .NET watch, which reads no kernel rows).</summary>
    public static readonly IEventSink None = new NoEvents();

    private sealed class NoEvents : IEventSink
    {
        public void OnEvent(in TcpqEvent e) { }
    }
}
