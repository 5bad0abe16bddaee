using System.Globalization;
using System.Text;
using Tcpq.Diag;

namespace Tcpq.Output;

/// <summary>Aligned columns for a person: the fullest queue on top. The owners' comms show their
/// control characters escaped (<see cref="Events.DisplayText"/>), measured as shown.</summary>
public sealed class ListenersTableWriter(TextWriter output) : IListenersWriter
{
    private static readonly string[] Headers = ["NETNS", "LOCAL ADDRESS:PORT", "Q0", "Q", "QMAX", "DROPS", "WORKLOAD", "OWNERS"];
    private static readonly bool[] RightAligned = [false, false, true, true, true, true, false, false];
    private const int WorkloadColumn = 6;

    public void Write(DateTime time, IReadOnlyList<ListenerQueue> rows, bool repeated)
    {
        var cells = new List<string[]>(rows.Count + 1) { Headers };
        foreach (var l in rows)
            cells.Add([
                l.NetNs.ToString(CultureInfo.InvariantCulture),
                Endpoint(l),
                l.Q0.ToString(CultureInfo.InvariantCulture),
                l.Q.ToString(CultureInfo.InvariantCulture),
                l.QMax.ToString(CultureInfo.InvariantCulture),
                l.Drops?.ToString(CultureInfo.InvariantCulture) ?? "-",
                Events.DisplayText.Of(l.Workload?.ShortText ?? "-"),
                Events.DisplayText.Of(ListenersWriters.OwnersText(l)),
            ]);
        // the column is there only when a listener runs in a container
        if (!rows.Any(l => l.Workload is not null))
            for (int r = 0; r < cells.Count; r++) cells[r] = [.. cells[r][..WorkloadColumn], .. cells[r][(WorkloadColumn + 1)..]];
        bool[] rightAligned = cells[0].Length == Headers.Length ? RightAligned : [.. RightAligned[..WorkloadColumn], .. RightAligned[(WorkloadColumn + 1)..]];
        var widths = new int[cells[0].Length];
        foreach (var row in cells)
            for (int c = 0; c < row.Length; c++) widths[c] = Math.Max(widths[c], row[c].Length);

        var sb = new StringBuilder();
        if (repeated) sb.Append(ListenersWriters.Time(time)).Append("  ").Append(rows.Count).Append(rows.Count == 1 ? " listener\n" : " listeners\n");
        foreach (var row in cells)
        {
            for (int c = 0; c < row.Length; c++)
            {
                if (c > 0) sb.Append("  ");
                bool last = c == row.Length - 1;
                if (rightAligned[c]) sb.Append(row[c].PadLeft(widths[c]));
                else sb.Append(last ? row[c] : row[c].PadRight(widths[c]));
            }
            sb.Append('\n');
        }
        output.Write(sb.ToString());
        output.Flush();
    }

    /// <summary>address:port, IPv6 in brackets as ss prints it.</summary>
    public static string Endpoint(ListenerQueue l) =>
        l.LocalAddress.IsV4Mapped ? $"{l.LocalAddressText}:{l.LocalPort}" : $"[{l.LocalAddressText}]:{l.LocalPort}";
}
