using Tcpq.Diag;

namespace Tcpq.Output;

/// <summary>Renders snapshots of the listening sockets. A snapshot is written whole, then flushed.</summary>
public interface IListenersWriter
{
    /// <param name="time">When the snapshot was taken (UTC).</param>
    /// <param name="repeated">Part of a --watch series: every snapshot says when it was taken.</param>
    void Write(DateTime time, IReadOnlyList<ListenerQueue> rows, bool repeated);
}
