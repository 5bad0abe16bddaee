using Tcpq.Events;

namespace Tcpq.Report;

/// <summary>One format's rows into events; throws <see cref="RowException"/> on a bad row.</summary>
internal interface IRowParser
{
    void Parse(ReadOnlySpan<byte> line, ref TcpqEvent e);
}
