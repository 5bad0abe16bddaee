using System.Text;
using Tcpq.Events;

namespace Tcpq.Output;

/// <summary>
/// A text writer for a person's eyes (stderr's messages, the text summary, report): every line
/// written passes <see cref="DisplayText"/>, so a name inside it with ESC, CR or a line feed is
/// shown escaped. <c>WriteLine(text)</c> writes one line whatever the text holds (a line feed in
/// a name cannot forge a second line); <c>Write(text)</c> keeps its line breaks and escapes the rest.
/// </summary>
public sealed class DisplayTextWriter : TextWriter
{
    private readonly TextWriter _inner;

    private DisplayTextWriter(TextWriter inner) : base(inner.FormatProvider)
    {
        _inner = inner;
        CoreNewLine = ['\n'];
    }

    /// <summary>The writer, made safe (once: a DisplayTextWriter is returned as it is).</summary>
    public static TextWriter Wrap(TextWriter inner) => inner as DisplayTextWriter ?? new DisplayTextWriter(inner);

    public override Encoding Encoding => _inner.Encoding;

    public override void Write(char value)
    {
        if (value == '\n') _inner.Write('\n');
        else _inner.Write(DisplayText.Of(value.ToString()));
    }

    public override void Write(string? value)
    {
        if (value is null) return;
        if (DisplayText.IsSafe(value)) { _inner.Write(value); return; }
        var lines = value.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (i > 0) _inner.Write('\n');
            _inner.Write(DisplayText.Of(lines[i]));
        }
    }

    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

    public override void WriteLine(string? value)
    {
        _inner.Write(DisplayText.Of(value ?? ""));
        _inner.Write('\n');
    }

    public override void WriteLine() => _inner.Write('\n');

    public override void Flush() => _inner.Flush();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _inner.Dispose();
        base.Dispose(disposing);
    }
}
