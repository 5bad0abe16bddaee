using Tcpq.Events;

namespace Tcpq.Output;

/// <summary>Writes nothing: the events still feed --summary and are counted.</summary>
public sealed class NoEventWriter : IEventWriter
{
    public void WriteHeader() { }
    public void Write(in TcpqEvent e) { }
    public void Flush() { }
    public void Dispose() { }
}
