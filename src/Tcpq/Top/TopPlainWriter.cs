using System.Text;
using Tcpq.Events;

namespace Tcpq.Top;

/// <summary>The batch view (like <c>top -b</c>): one plain snapshot per interval, aligned columns,
/// no escape codes (a name's control characters shown escaped); the diagnosis lines in full under
/// the table; a blank line between snapshots.</summary>
public static class TopPlainWriter
{
    public static void Write(TextWriter to, TopFrame frame, string what)
    {
        var columns = TopColumns.For(frame.Rows);
        // escaped before the widths are taken, so a name with control characters still lines up
        var cells = frame.Rows.Select(r => columns.Select(c => DisplayText.Of(c.Text(r))).ToArray()).ToList();
        var widths = columns.Select((c, i) => cells.Select(row => row[i].Length).Append(c.Heading.Length).Max()).ToArray();

        var text = new StringBuilder();
        text.Append(DisplayText.Of(TopColumns.Title(frame, what))).Append('\n');
        Line(text, columns.Select(c => c.Heading).ToArray(), columns, widths);
        foreach (var row in cells) Line(text, row, columns, widths);
        foreach (var r in frame.Rows.Where(r => r.Finding is not null))
            text.Append("  ").Append(DisplayText.Of(TopColumns.Diagnosis(r))).Append('\n');
        foreach (var app in frame.AppLines) text.Append("  ").Append(DisplayText.Of(app.Text)).Append('\n');
        text.Append('\n');
        to.Write(text.ToString());
        to.Flush();
    }

    private static void Line(StringBuilder text, string[] cells, IReadOnlyList<TopColumn> columns, int[] widths)
    {
        int start = text.Length;
        for (int i = 0; i < cells.Length; i++)
        {
            if (i > 0) text.Append("  ");
            if (columns[i].Numeric) text.Append(cells[i].PadLeft(widths[i]));
            else text.Append(i == cells.Length - 1 ? cells[i] : cells[i].PadRight(widths[i]));
        }
        while (text.Length > start && text[^1] == ' ') text.Length--;
        text.Append('\n');
    }
}
