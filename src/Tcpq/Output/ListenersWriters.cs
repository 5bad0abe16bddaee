using Tcpq.Diag;

namespace Tcpq.Output;

public enum ListenersFormat { Table, Csv, Json }

/// <summary>Renders snapshots of the listening sockets. A snapshot is written whole, then flushed.</summary>
public interface IListenersWriter
{
    /// <param name="time">When the snapshot was taken (UTC).</param>
    /// <param name="repeated">Part of a --watch series: every snapshot says when it was taken.</param>
    void Write(DateTime time, IReadOnlyList<ListenerQueue> rows, bool repeated);
}

public static class ListenersWriters
{
    public static IListenersWriter Create(ListenersFormat format, TextWriter output) => format switch
    {
        ListenersFormat.Table => new ListenersTableWriter(output),
        ListenersFormat.Csv => new ListenersCsvWriter(output),
        ListenersFormat.Json => new ListenersJsonWriter(output),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    internal static string Time(DateTime utc) =>
        utc.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The owners column: pid/comm list, or why there is none.</summary>
    internal static string OwnersText(ListenerQueue l) =>
        l.Owners.Count > 0 ? string.Join(' ', l.Owners) : l.OwnersUnknown ?? "";
}
