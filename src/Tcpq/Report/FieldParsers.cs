using System.Buffers.Binary;
using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using Tcpq.Events;

namespace Tcpq.Report;

/// <summary>The pieces of a row, parsed from UTF-8 without allocating (IPv6 text aside).</summary>
internal static class FieldParsers
{
    public static ulong U64(ReadOnlySpan<byte> s, string column) =>
        Utf8Parser.TryParse(s, out ulong v, out int n) && n == s.Length ? v : throw Bad(column, s);

    /// <summary>A count of µs as ns; one that would not fit (2^64−1 µs is 584,000 years) is out of range, never wrapped.</summary>
    public static ulong MicrosToNs(ulong us, string column) =>
        us <= ulong.MaxValue / 1000 ? us * 1000 : throw new RowException($"{column} {us} is out of range (no wait lasts {us / 1_000_000 / 31_557_600} years)");

    public static uint U32(ReadOnlySpan<byte> s, string column) =>
        Utf8Parser.TryParse(s, out uint v, out int n) && n == s.Length ? v : throw Bad(column, s);

    public static ushort Port(ReadOnlySpan<byte> s, string column) =>
        Utf8Parser.TryParse(s, out ushort v, out int n) && n == s.Length ? v : throw Bad(column, s);

    public static EventKind Kind(ReadOnlySpan<byte> s)
    {
        foreach (var k in EventKinds.All)
            if (s.SequenceEqual(EventKinds.Utf8Name(k))) return k;
        throw Bad("Action", s);
    }

    /// <summary>Dotted IPv4 (stored IPv4-mapped, as the kernel side does) or IPv6 text.</summary>
    public static void Address(ReadOnlySpan<byte> s, ref Address16 dest, string column)
    {
        if (TryV4(s, ref dest)) return;
        if (s.Length > 0 && s.Length <= AddressText.MaxLength && s.IndexOf((byte)':') >= 0)
        {
            Span<char> chars = stackalloc char[s.Length];
            for (int i = 0; i < s.Length; i++) chars[i] = (char)s[i];
            if (IPAddress.TryParse(chars, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6 && ip.TryWriteBytes((Span<byte>)dest, out _))
                return;
        }
        throw Bad(column, s);
    }

    /// <summary>The seed's <c>0x%08x</c>: an IPv4 address read as a little-endian u32
    /// (172.16.170.1 is 0x01aa10ac). tcpq writes an IPv6 source as text there.</summary>
    public static void SeedAddress(ReadOnlySpan<byte> s, ref Address16 dest)
    {
        if (s.Length == 10 && s[0] == (byte)'0' && (s[1] | 0x20) == (byte)'x'
            && Utf8Parser.TryParse(s[2..], out uint v, out int n, 'x') && n == 8)
        {
            Span<byte> v4 = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(v4, v);
            dest = Address16.FromV4(v4);
            return;
        }
        Address(s, ref dest, "Source IP");
    }

    private static bool TryV4(ReadOnlySpan<byte> s, ref Address16 dest)
    {
        Span<byte> v4 = stackalloc byte[4];
        for (int i = 0; i < 4; i++)
        {
            if (!Utf8Parser.TryParse(s, out byte b, out int n) || n == 0 || n > 3) return false;
            v4[i] = b;
            s = s[n..];
            if (i < 3)
            {
                if (s.IsEmpty || s[0] != (byte)'.') return false;
                s = s[1..];
            }
        }
        if (!s.IsEmpty) return false;
        dest = Address16.FromV4(v4);
        return true;
    }

    /// <summary>A row about a whole process (app-pool, app-starve, app-gc) has no addresses or ports.</summary>
    public static void Empty(ReadOnlySpan<byte> sourceIp, ReadOnlySpan<byte> sourcePort, ReadOnlySpan<byte> destPort, ReadOnlySpan<byte> destIp)
    {
        if (!sourceIp.IsEmpty || !sourcePort.IsEmpty || !destPort.IsEmpty || !destIp.IsEmpty)
            throw new RowException("a process-wide app row has no addresses or ports");
    }

    public static RowException Bad(string column, ReadOnlySpan<byte> value)
    {
        var text = System.Text.Encoding.UTF8.GetString(value[..Math.Min(value.Length, 40)]);
        return new RowException(value.IsEmpty ? $"{column} is empty" : $"bad {column} '{text}'");
    }
}
