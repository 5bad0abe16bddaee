using Spectre.Console;
using Spectre.Console.Rendering;
using Tcpq.Connections;

namespace Tcpq.Top;

/// <summary>The terminal view: a title line, the table (the sort column marked), one diagnosis
/// line per listener where a rule fires, and the keys. Drawn by Spectre.Console; the rows' words
/// are escaped, never read as markup.</summary>
public static class TopScreen
{
    public const string Keys = "q quit · p pause · < > sort column · r reverse · w worst first";

    /// <summary>At most this many diagnosis lines (the worst listeners first when sorted so).</summary>
    public const int MaxDiagnosisLines = 5;

    private const int Gap = 2;

    /// <summary>The whole screen for a terminal <paramref name="width"/> cells wide (columns the
    /// width cannot hold are left out, the least needed first).</summary>
    public static IRenderable Render(TopFrame frame, string what, bool paused, int width)
    {
        // the simple border: an edge either side, a separator between columns
        var columns = TopColumns.Fit(TopColumns.For(frame.Rows), frame.Rows, width - 2, Gap + 1);
        var table = new Table { Border = TableBorder.Simple, ShowRowSeparators = false };
        foreach (var c in columns)
        {
            bool sorted = c.Sort == frame.Sort;
            string heading = sorted ? c.Heading + (frame.Sort == TopSort.Listener ^ frame.Reversed ? "↑" : "↓") : c.Heading;
            bool last = c == columns[^1];
            // only the last column (the drop reasons) gives way when the terminal is narrow
            var column = new TableColumn(new OneLine(heading, new Style(decoration: sorted ? Decoration.Bold | Decoration.Invert : Decoration.Bold), shrinks: last, right: c.Numeric))
            {
                NoWrap = !last,
                Padding = new Padding(0, 0, Gap, 0),
            };
            table.AddColumn(c.Numeric ? column.RightAligned() : column.LeftAligned());
        }
        foreach (var r in frame.Rows)
        {
            var style = new Style(SeverityColor(r.Finding?.Severity));
            table.AddRow(columns.Select(c => (IRenderable)new OneLine(c.Text(r), style, shrinks: c == columns[^1], right: c.Numeric)).ToArray());
        }
        if (frame.Rows.Count == 0)
            table.Caption = new TableTitle("no listener has seen a connection event yet");

        var lines = new List<IRenderable>
        {
            new OneLine(TopColumns.Title(frame, what, paused, date: false), new Style(decoration: Decoration.Bold)),
            table,
        };
        foreach (var r in frame.Rows.Where(r => r.Finding is not null).Take(MaxDiagnosisLines))
            lines.Add(new OneLine(TopColumns.Diagnosis(r), new Style(SeverityColor(r.Finding!.Severity))));
        foreach (var app in frame.AppLines)
            lines.Add(new OneLine(app.Text, new Style(SeverityColor(app.Severity))));
        lines.Add(new OneLine(TopColumns.LatencyNote, new Style(decoration: Decoration.Dim)));
        lines.Add(new OneLine(Keys, new Style(decoration: Decoration.Dim)));
        return new Rows(lines);
    }

    private static Color SeverityColor(Severity? severity) => severity switch
    {
        Severity.Critical => Color.Red,
        Severity.Warning => Color.Yellow,
        _ => Color.Default,
    };
}
