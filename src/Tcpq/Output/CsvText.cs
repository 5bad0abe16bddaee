using System.Text;

namespace Tcpq.Output;

/// <summary>How every csv writer writes a text field (a comm, a reason, the owners list): RFC 4180
/// quoting, a field holding a comma or a quote is quoted and its quotes doubled; control bytes
/// (a comm may hold any byte, a line break would split the row) become '?'.</summary>
public static class CsvText
{
    /// <summary>The most bytes <see cref="Write"/> writes for <paramref name="length"/> bytes of text.</summary>
    public static int MaxWritten(int length) => 2 * length + 2;

    public static int Write(ReadOnlySpan<byte> text, Span<byte> dest)
    {
        bool quote = text.IndexOfAny(",\""u8) >= 0;
        if (!quote && text.IndexOfAnyInRange((byte)0, (byte)0x1f) < 0 && text.IndexOf((byte)0x7f) < 0)
        {
            text.CopyTo(dest);
            return text.Length;
        }
        int n = 0;
        if (quote) dest[n++] = (byte)'"';
        foreach (byte b in text)
        {
            if (b == (byte)'"') { dest[n++] = (byte)'"'; dest[n++] = (byte)'"'; }
            else dest[n++] = b < 0x20 || b == 0x7f ? (byte)'?' : b;
        }
        if (quote) dest[n++] = (byte)'"';
        return n;
    }

    public static string Quote(string field)
    {
        var utf8 = Encoding.UTF8.GetBytes(field);
        var dest = new byte[MaxWritten(utf8.Length)];
        return Encoding.UTF8.GetString(dest, 0, Write(utf8, dest));
    }
}
