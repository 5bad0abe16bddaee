using System.Buffers.Text;
using Tcpq.Events;

namespace Tcpq.Output;

/// <summary>One row formatted into a span reserved for it in one piece: no buffer check per
/// field (a row is at most <see cref="MaxRow"/> bytes).</summary>
internal ref struct RowSpan(Span<byte> span)
{
    /// <summary>The longest row any format writes: two IPv6 addresses, every number at its
    /// widest, a comm and a reason each quoted with every byte doubled.</summary>
    public const int MaxRow = 1024;

    /// <summary>Text fields (comm, drop reason names from the kernel's BTF) are cut to this.</summary>
    private const int MaxText = 128;

    private readonly Span<byte> _s = span;
    public int Length;

    public void Byte(byte b) => _s[Length++] = b;

    public void Bytes(scoped ReadOnlySpan<byte> b)
    {
        b.CopyTo(_s[Length..]);
        Length += b.Length;
    }

    public void UInt(ulong v)
    {
        Utf8Formatter.TryFormat(v, _s[Length..], out int n);
        Length += n;
    }

    public void Address(in Address16 a) => Length += AddressText.Format(a, _s[Length..]);

    /// <summary>The seed's <c>0x%08x</c> of an IPv4 address (see <see cref="AddressText.FormatSeed"/>).</summary>
    public void SeedAddress(in Address16 a) => Length += AddressText.FormatSeed(a, _s[Length..]);

    public void IsoDate(SecondText dates, DateTime utc) => Length += dates.WriteIsoMicros(utc, _s[Length..]);

    /// <summary>A text field, cut to <see cref="MaxText"/> bytes, quoted as <see cref="Output.CsvText"/> says.</summary>
    public void CsvText(scoped ReadOnlySpan<byte> text)
    {
        if (text.Length > MaxText) text = text[..MaxText];
        Length += Output.CsvText.Write(text, _s[Length..]);
    }
}

