using Spectre.Console;
using Spectre.Console.Rendering;

namespace Tcpq.Top;

/// <summary>A line of plain words cut to the terminal's width with "…" instead of wrapping: a
/// screen that must fit stays one line per thing. The text is never read as markup, and its
/// control characters (a comm may hold ESC) are shown escaped (<see cref="Events.DisplayText"/>).</summary>
/// <param name="shrinks">May a table give it less than its whole width (a long, last column)?</param>
/// <param name="right">Right-aligned in the width it is given (a number in a table column).</param>
public sealed class OneLine(string text, Style? style = null, bool shrinks = true, bool right = false) : Renderable
{
    private readonly string text = Events.DisplayText.Of(text);

    protected override Measurement Measure(RenderOptions options, int maxWidth) =>
        new(Math.Min(shrinks ? 1 : text.Length, maxWidth), Math.Min(text.Length, maxWidth));

    protected override IEnumerable<Segment> Render(RenderOptions options, int maxWidth)
    {
        string line = text.Length <= maxWidth ? text : maxWidth <= 1 ? "…"[..maxWidth] : text[..(maxWidth - 1)] + "…";
        if (right) line = line.PadLeft(maxWidth);
        yield return new Segment(line, style ?? Style.Plain);
        yield return Segment.LineBreak;
    }
}
