using System.Globalization;
using System.Text;

namespace Tcpq.Events;

/// <summary>
/// The one sanitizer for text shown to a person (tables, summaries, report, top, listeners, stderr
/// lines). A name that comes from the kernel or another process — a comm, which any process sets
/// with prctl(PR_SET_NAME) to any 15 bytes, a path, a file name, a flag's value — may hold ESC, CR,
/// a line feed or a bidirectional override: raw, they would move the cursor, rewrite or hide what
/// the terminal shows, or forge a line. Here every control character (C0, DEL, C1), line and
/// paragraph separator and bidirectional control is shown escaped, as <c>\e</c>, <c>\r</c>,
/// <c>\n</c>, <c>\t</c> or <c>\xNN</c> / <c>\u202E</c>; bytes that are not UTF-8 show as U+FFFD.
/// A backslash stays as it is, so that the result is safe and a second pass changes nothing: a line
/// escaped by its writer and again at stderr's edge (<c>Output/DisplayTextWriter</c>) reads the
/// same. JSON escapes by its own rules and CSV by its own (<c>Output/CsvText</c>): neither comes
/// through here.
/// </summary>
public static class DisplayText
{
    /// <summary>The text, safe for a terminal; the same string when nothing needed escaping.</summary>
    public static string Of(string text)
    {
        int first = IndexOfUnsafe(text);
        if (first < 0) return text;
        var b = new StringBuilder(text.Length + 8);
        b.Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (!IsUnsafe(c)) { b.Append(c); continue; }
            b.Append(c switch
            {
                '\x1b' => "\\e",
                '\r' => "\\r",
                '\n' => "\\n",
                '\t' => "\\t",
                < '\x100' => "\\x" + ((int)c).ToString("x2", CultureInfo.InvariantCulture),
                _ => "\\u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture),
            });
        }
        return b.ToString();
    }

    /// <summary>UTF-8 bytes (a comm as the kernel gives it) as safe text.</summary>
    public static string Of(ReadOnlySpan<byte> utf8) => Of(Encoding.UTF8.GetString(utf8));

    /// <summary>A null stays null (a field that does not apply).</summary>
    public static string? OfNullable(string? text) => text is null ? null : Of(text);

    public static bool IsSafe(string text) => IndexOfUnsafe(text) < 0;

    private static int IndexOfUnsafe(string text)
    {
        for (int i = 0; i < text.Length; i++)
            if (IsUnsafe(text[i])) return i;
        return -1;
    }

    private static bool IsUnsafe(char c) => c switch
    {
        < ' ' or '\x7f' => true,                        // C0 controls (ESC, CR, LF, BS…) and DEL
        >= '\x80' and <= '\x9f' => true,                // C1 controls: \x9b is CSI in some terminals
        '\u2028' or '\u2029' => true,                   // line and paragraph separators
        >= '\u202a' and <= '\u202e' => true,            // bidirectional embeddings and overrides
        >= '\u2066' and <= '\u2069' => true,            // bidirectional isolates
        '\u200e' or '\u200f' or '\u061c' => true,       // bidirectional marks
        _ => false,
    };
}
