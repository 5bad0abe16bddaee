using System.Buffers.Binary;
using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using Tcpq.Events;

namespace Tcpq.Report;

/// <summary>A row that cannot be read: the reader adds the line number.</summary>
internal sealed class RowException(string message) : Exception(message);
