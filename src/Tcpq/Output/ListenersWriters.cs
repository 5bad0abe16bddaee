using Tcpq.Diag;

namespace Tcpq.Output;

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
