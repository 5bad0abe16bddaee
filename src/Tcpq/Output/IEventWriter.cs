using Tcpq.Events;

namespace Tcpq.Output;

/// <summary>One output format. Rows go to a buffer; <see cref="Flush"/> hands them to the stream.</summary>
public interface IEventWriter : IDisposable
{
    void WriteHeader();
    void Write(in TcpqEvent e);
    void Flush();
}
