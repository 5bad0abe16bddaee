using System.Text;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Tests;

/// <summary>The pieces that exist once: the address form, the comm, tcpq's reason names, csv quoting.</summary>
public class OneOfEachTests
{
    [Fact]
    public void An_IPv4_address_is_held_IPv4_mapped_and_equal_whoever_made_it()
    {
        var a = Address16.FromV4([10, 0, 0, 1]);
        var b = Address16.FromV6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
        Assert.True(a.IsV4Mapped);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal("10.0.0.1", a.ToString());
        Assert.Equal(Address16.V4Any, a.AnyOfFamily);
        Assert.Equal(default, Address16.FromV6(new byte[16] { 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7 }).AnyOfFamily);
        Assert.True(default(Address16).IsZero);
        Assert.False(default(Address16).IsV4Mapped);
        Assert.True(Address16.FromV4([10, 0, 0, 1]).CompareTo(Address16.FromV4([10, 0, 0, 2])) < 0);
    }

    [Fact]
    public void A_comm_is_cut_to_the_kernels_15_bytes_and_trimmed_at_its_NUL()
    {
        var c = Comm16.From("a-very-long-process-name");
        Assert.Equal("a-very-long-pro", Comm16.Text(c));
        Assert.Equal(15, Comm16.Trimmed(c).Length);
        Assert.Null(Comm16.Text(default));
        Assert.Equal("nginx"u8.ToArray(), Comm16.Trimmed(Comm16.From("nginx"u8)).ToArray());
    }

    [Theory]
    [InlineData("accept-queue-full")]
    [InlineData("syn-queue-full")]
    [InlineData("peer-reset")]
    [InlineData("peer-closed")]
    [InlineData("cookie-ack-overflow")]
    [InlineData("listen-drop")]
    [InlineData("child-discarded")]
    public void Tcpqs_own_reason_names_read_back_to_the_value_they_were_written_from(string name)
    {
        Assert.True(DropReasons.TryParseOwn(Encoding.UTF8.GetBytes(name), out uint value));
        Assert.Equal(name, DropReasons.Empty.Name(value));
    }

    [Theory]
    [InlineData("nginx", "nginx")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("two\nlines", "two?lines")]
    [InlineData("tab\there", "tab?here")]
    public void Csv_text_is_quoted_one_way_for_every_writer(string field, string written)
    {
        Assert.Equal(written, CsvText.Quote(field));
        var dest = new byte[CsvText.MaxWritten(field.Length)];
        int n = CsvText.Write(Encoding.UTF8.GetBytes(field), dest);
        Assert.Equal(written, Encoding.UTF8.GetString(dest, 0, n));
    }
}
