using System.Buffers.Binary;
using System.Net;
using System.Text;
using Tcpq.Events;

namespace Tcpq.Tests;

public class AddressTextTests
{
    private static byte[] Bytes(string text)
    {
        var ip = IPAddress.Parse(text);
        return (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? ip.MapToIPv6() : ip).GetAddressBytes();
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("172.16.170.1")]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    public void An_ipv4_mapped_address_prints_dotted(string v4)
    {
        var a = Bytes(v4);
        Assert.True(Address16.IsV4MappedBytes(a));
        Assert.Equal(v4, AddressText.ToText(a));
    }

    [Theory]
    [InlineData("0:0:0:0:0:0:0:1", "::1")]
    [InlineData("0:0:0:0:0:0:0:0", "::")]
    [InlineData("2001:db8:0:0:0:0:0:1", "2001:db8::1")]
    [InlineData("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1")]
    [InlineData("2001:0:0:1:0:0:0:1", "2001:0:0:1::1")]
    [InlineData("fe80:0:0:0:0:0:1:2", "fe80::1:2")]
    [InlineData("1:0:0:0:0:0:0:0", "1::")]
    [InlineData("2001:0db8:00ab:000c:0001:0ff0:ABCD:0000", "2001:db8:ab:c:1:ff0:abcd:0")]
    [InlineData("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1")]
    [InlineData("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]
    public void An_ipv6_address_prints_as_rfc_5952_says(string full, string expected)
    {
        Assert.Equal(expected, AddressText.ToText(Bytes(full)));
    }

    [Fact]
    public void Random_ipv6_addresses_print_as_IPAddress_prints_them()
    {
        var rng = new Random(5952);
        var a = new byte[16];
        for (int n = 0; n < 5000; n++)
        {
            // words are zero half the time, so that runs of zeros of every length and place occur
            for (int i = 0; i < 8; i++)
            {
                ushort w = rng.Next(4) switch { 0 or 1 => 0, 2 => (ushort)rng.Next(0x100), _ => (ushort)rng.Next(0x10000) };
                BinaryPrimitives.WriteUInt16BigEndian(a.AsSpan(2 * i), w);
            }
            // IPAddress embeds an IPv4 address in ::a.b.c.d, ::ffff:a.b.c.d, ::ffff:0:a.b.c.d and
            // ISATAP x:x:x:x:0:5efe:a.b.c.d; tcpq prints those in plain RFC 5952 form
            if (BinaryPrimitives.ReadUInt64LittleEndian(a) == 0) continue;
            if (a[8] == 0 && a[9] == 0 && a[10] == 0x5e && a[11] == 0xfe) continue;

            Assert.Equal(new IPAddress(a).ToString(), AddressText.ToText(a));
        }
    }

    [Fact]
    public void The_longest_address_fits_in_MaxLength()
    {
        var a = Bytes("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        var dest = new byte[AddressText.MaxLength];
        Assert.Equal(39, AddressText.Format(a, dest));
    }

    [Theory]
    [InlineData("172.16.170.1", "0x01aa10ac")]
    [InlineData("127.0.0.1", "0x0100007f")]
    [InlineData("0.0.0.1", "0x01000000")]
    [InlineData("2001:db8::1", "2001:db8::1")]
    public void The_seed_format_is_the_little_endian_u32_in_hex(string address, string expected)
    {
        var dest = new byte[AddressText.MaxLength];
        int n = AddressText.FormatSeed(Bytes(address), dest);
        Assert.Equal(expected, Encoding.ASCII.GetString(dest, 0, n));
    }
}
