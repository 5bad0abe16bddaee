using System.Buffers.Text;
using Tcpq.Events;

namespace Tcpq.Output;

/// <summary>The pieces rows are made of, formatted into an <see cref="OutputBuffer"/>.</summary>
internal static class RowFields
{
    public static void UInt(OutputBuffer o, ulong v)
    {
        var span = o.GetSpan(20);
        Utf8Formatter.TryFormat(v, span, out int n);
        o.Advance(n);
    }

    public static void Address(OutputBuffer o, in Address16 a)
    {
        var span = o.GetSpan(AddressText.MaxLength);
        o.Advance(AddressText.Format(a, span));
    }

    public static void IsoDate(OutputBuffer o, SecondText dates, DateTime utc) => o.Advance(dates.WriteIsoMicros(utc, o.GetSpan(40)));

    /// <summary>The comm as it lies in the event: up to the first NUL.</summary>
    public static ReadOnlySpan<byte> Comm(in Comm16 c)
    {
        ReadOnlySpan<byte> s = c;
        int nul = s.IndexOf((byte)0);
        return nul < 0 ? s : s[..nul];
    }

    /// <summary>RFC 4180: a field holding a comma, a quote or a line break is quoted, quotes doubled.
    /// Control bytes never reach the output.</summary>
    public static void CsvText(OutputBuffer o, ReadOnlySpan<byte> text)
    {
        bool quote = text.IndexOfAny(",\"\r\n"u8) >= 0;
        if (quote) o.Write((byte)'"');
        foreach (byte b in text)
        {
            if (b == (byte)'"') { o.Write((byte)'"'); o.Write((byte)'"'); }
            else if (b < 0x20 && b != (byte)'\r' && b != (byte)'\n') o.Write((byte)'?');
            else o.Write(b);
        }
        if (quote) o.Write((byte)'"');
    }
}
