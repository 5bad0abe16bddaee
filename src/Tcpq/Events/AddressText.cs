using System.Buffers.Binary;
using System.Buffers.Text;

namespace Tcpq.Events;

/// <summary>Formats the event's 16-byte addresses as text without allocating: IPv4 (also when
/// IPv4-mapped) dotted, IPv6 as RFC 5952 (lower case, longest zero run compressed).</summary>
public static class AddressText
{
    public const int MaxLength = 45;

    /// <summary>Writes the address into <paramref name="dest"/> (at least <see cref="MaxLength"/> bytes).</summary>
    public static int Format(ReadOnlySpan<byte> a, Span<byte> dest)
    {
        if (Address16.IsV4MappedBytes(a)) return FormatV4(a[12..], dest);
        return FormatV6(a, dest);
    }

    public static int FormatV4(ReadOnlySpan<byte> v4, Span<byte> dest)
    {
        int n = 0;
        for (int i = 0; i < 4; i++)
        {
            if (i > 0) dest[n++] = (byte)'.';
            Utf8Formatter.TryFormat(v4[i], dest[n..], out int w);
            n += w;
        }
        return n;
    }

    private static int FormatV6(ReadOnlySpan<byte> a, Span<byte> dest)
    {
        Span<ushort> words = stackalloc ushort[8];
        for (int i = 0; i < 8; i++) words[i] = BinaryPrimitives.ReadUInt16BigEndian(a[(2 * i)..]);

        // RFC 5952 4.2: the longest run of two or more zero words, the first one on a tie
        int bestStart = -1, bestLen = 0;
        for (int i = 0; i < 8;)
        {
            if (words[i] != 0) { i++; continue; }
            int j = i;
            while (j < 8 && words[j] == 0) j++;
            if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
            i = j;
        }

        int n = 0;
        for (int i = 0; i < 8;)
        {
            if (i == bestStart)
            {
                dest[n++] = (byte)':';
                dest[n++] = (byte)':';
                i += bestLen;
                continue;
            }
            if (n > 0 && dest[n - 1] != (byte)':') dest[n++] = (byte)':';
            Utf8Formatter.TryFormat(words[i], dest[n..], out int w, new System.Buffers.StandardFormat('x'));
            n += w;
            i++;
        }
        return n;
    }

    public static string ToText(ReadOnlySpan<byte> a)
    {
        Span<byte> buf = stackalloc byte[MaxLength];
        return System.Text.Encoding.ASCII.GetString(buf[..Format(a, buf)]);
    }

    /// <summary>The seed's <c>0x%08x</c>: the IPv4 address as a 32-bit number read from memory on
    /// little-endian x86, so 172.16.170.1 is 0x01aa10ac. IPv6 addresses print as text.</summary>
    public static int FormatSeed(ReadOnlySpan<byte> a, Span<byte> dest)
    {
        if (!Address16.IsV4MappedBytes(a)) return FormatV6(a, dest);
        uint v = BinaryPrimitives.ReadUInt32LittleEndian(a[12..]);
        dest[0] = (byte)'0';
        dest[1] = (byte)'x';
        Utf8Formatter.TryFormat(v, dest[2..], out int w, new System.Buffers.StandardFormat('x', 8));
        return 2 + w;
    }
}
