using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Tcpq.Output;

/// <summary>Date text for rows, formatted once per second: events come in time order, thousands
/// per second, and a DateTime custom format costs more than the rest of a row.</summary>
internal sealed class SecondText(string format)
{
    private long _second = long.MinValue;
    private byte[] _text = [];

    /// <summary>The ISO-8601 UTC form with microseconds: <c>2026-11-27T02:53:41.953075Z</c>.</summary>
    public static SecondText Iso() => new("yyyy-MM-dd'T'HH:mm:ss");

    /// <summary>The text of the whole second holding <paramref name="utc"/>.</summary>
    public ReadOnlySpan<byte> Second(DateTime utc)
    {
        long second = utc.Ticks / TimeSpan.TicksPerSecond;
        if (second != _second)
        {
            var start = new DateTime(second * TimeSpan.TicksPerSecond, DateTimeKind.Utc);
            _text = Encoding.ASCII.GetBytes(start.ToString(FormatFor(start), CultureInfo.InvariantCulture));
            _second = second;
        }
        return _text;
    }

    // DTrace's %Y is ctime(3) rearranged: a day below 10 is padded with a space ("2016 Aug  3").
    private string FormatFor(DateTime t) => t.Day < 10 ? format.Replace(" dd ", "  d ", StringComparison.Ordinal) : format;

    /// <summary>Writes the second's text, then <c>.ffffffZ</c>; returns the bytes written (at most 40).</summary>
    public int WriteIsoMicros(DateTime utc, Span<byte> dest)
    {
        var second = Second(utc);
        second.CopyTo(dest);
        int n = second.Length;
        dest[n++] = (byte)'.';
        Utf8Formatter.TryFormat((uint)(utc.Ticks % TimeSpan.TicksPerSecond / 10), dest[n..], out int w, new StandardFormat('D', 6));
        n += w;
        dest[n++] = (byte)'Z';
        return n;
    }
}
