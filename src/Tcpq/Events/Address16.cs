using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tcpq.Events;

/// <summary>An address as every part of tcpq holds it: 16 bytes in network order, IPv4 stored
/// IPv4-mapped (<c>::ffff:a.b.c.d</c>), as the kernel side writes it into events. So equal
/// endpoints compare equal whichever family reported them (an event, a sock_diag reply, a row of a
/// saved trace), and this is the one place that knows the mapping.</summary>
[InlineArray(16)]
public struct Address16 : IEquatable<Address16>, IComparable<Address16>
{
    private byte _b;

    /// <summary>An IPv4 address (4 bytes, network order), IPv4-mapped.</summary>
    public static Address16 FromV4(ReadOnlySpan<byte> v4)
    {
        var a = new Address16();
        Span<byte> s = a;
        s[10] = 0xff;
        s[11] = 0xff;
        v4[..4].CopyTo(s[12..]);
        return a;
    }

    /// <summary>An IPv6 address (16 bytes, network order), as it is.</summary>
    public static Address16 FromV6(ReadOnlySpan<byte> v6)
    {
        var a = new Address16();
        v6[..16].CopyTo(a);
        return a;
    }

    /// <summary>0.0.0.0, IPv4-mapped.</summary>
    public static Address16 V4Any => FromV4([0, 0, 0, 0]);

    /// <summary>16 bytes of an address in this form: is it an IPv4 one?</summary>
    public static bool IsV4MappedBytes(ReadOnlySpan<byte> a) =>
        BinaryPrimitives.ReadUInt64LittleEndian(a) == 0 && BinaryPrimitives.ReadUInt32LittleEndian(a[8..]) == 0xffff0000;

    public readonly bool IsV4Mapped => IsV4MappedBytes(Bytes(in this));

    /// <summary>All zeros: <c>::</c>, or unknown (the seed format has no Dest IP).</summary>
    public readonly bool IsZero => Hi == 0 && Lo == 0;

    /// <summary>The wildcard of the same family: 0.0.0.0 for IPv4, :: for IPv6.</summary>
    public readonly Address16 AnyOfFamily => IsV4Mapped ? V4Any : default;

    /// <summary>The first and last 8 bytes as they lie in memory (no byte swap): for equality and
    /// hashing, where order does not matter. An IPv4 address is all in <see cref="Last8"/>, so
    /// equality compares it first.</summary>
    internal readonly ulong First8
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Unsafe.ReadUnaligned<ulong>(ref Unsafe.As<Address16, byte>(ref Unsafe.AsRef(in this)));
    }
    internal readonly ulong Last8
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref Unsafe.As<Address16, byte>(ref Unsafe.AsRef(in this)), 8));
    }

    private readonly ulong Hi => BinaryPrimitives.ReadUInt64BigEndian(Bytes(in this));
    private readonly ulong Lo => BinaryPrimitives.ReadUInt64BigEndian(Bytes(in this)[8..]);

    private static ReadOnlySpan<byte> Bytes(in Address16 a) =>
        MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<Address16, byte>(ref Unsafe.AsRef(in a)), 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Equals(Address16 other) => Last8 == other.Last8 && First8 == other.First8;
    public override readonly bool Equals(object? obj) => obj is Address16 a && Equals(a);
    public override readonly int GetHashCode() => HashCode.Combine(First8, Last8);
    public readonly int CompareTo(Address16 other) => Hi != other.Hi ? Hi.CompareTo(other.Hi) : Lo.CompareTo(other.Lo);
    public static bool operator ==(Address16 a, Address16 b) => a.Equals(b);
    public static bool operator !=(Address16 a, Address16 b) => !a.Equals(b);

    /// <summary>Dotted IPv4, or RFC 5952 IPv6 (see <see cref="AddressText"/>).</summary>
    public override readonly string ToString() => AddressText.ToText(Bytes(in this));
}
