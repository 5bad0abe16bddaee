using Tcpq.Commands;

namespace Tcpq.Tests;

public class PortListTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("65536")]
    [InlineData("-1")]
    [InlineData("abc")]
    [InlineData("80x")]
    [InlineData("")]
    public void Rejects_a_bad_port_with_its_own_exit_code(string value)
    {
        var e = Assert.Throws<TcpqException>(() => PortList.Parse([value]));
        Assert.Equal(ExitCode.BadPort, e.Code);
    }

    [Fact]
    public void Takes_repeated_and_comma_separated_ports_sorted_once_each()
    {
        Assert.Equal(new ushort[] { 22, 80, 443, 65535 }, PortList.Parse(["443,80", "22", "80", "65535"]));
    }
}
