using Tcpq.Events;

namespace Tcpq.Tests;

public class DropReasonsTests
{
    private static readonly DropReasons Kernel = new(new Dictionary<uint, string>
    {
        [2] = "SKB_DROP_REASON_NOT_SPECIFIED",
        [40] = "SKB_DROP_REASON_TCP_LISTEN_OVERFLOW",
        [41] = "SOMETHING_ELSE",
    });

    [Theory]
    [InlineData(DropReasons.AcceptQueueFull, "accept-queue-full")]
    [InlineData(DropReasons.SynQueueFull, "syn-queue-full")]
    [InlineData(DropReasons.PeerReset, "peer-reset")]
    [InlineData(DropReasons.PeerClosed, "peer-closed")]
    [InlineData(DropReasons.CookieAckOverflow, "cookie-ack-overflow")]
    [InlineData(DropReasons.ListenDrop, "listen-drop")]
    [InlineData(DropReasons.ChildDiscarded, "child-discarded")]
    public void Tcpqs_own_reasons_have_fixed_names(uint reason, string expected)
    {
        Assert.Equal(expected, Kernel.Name(reason));
        Assert.Equal(expected, DropReasons.Empty.Name(reason));
    }

    [Theory]
    [InlineData(40u, "TCP_LISTEN_OVERFLOW")]
    [InlineData(2u, "NOT_SPECIFIED")]
    [InlineData(41u, "SOMETHING_ELSE")]
    public void A_kernel_reason_is_named_from_btf_without_its_prefix(uint reason, string expected)
    {
        Assert.Equal(expected, Kernel.Name(reason));
    }

    [Theory]
    [InlineData(77u, "77")]
    [InlineData(DropReasons.TcpqBase, "65536")]
    [InlineData(DropReasons.TcpqBase + 99, "65635")]
    [InlineData(uint.MaxValue, "4294967295")]
    public void An_unknown_reason_prints_as_its_number(uint reason, string expected)
    {
        Assert.Equal(expected, Kernel.Name(reason));
    }

    [Fact]
    public void No_reason_is_empty()
    {
        Span<byte> scratch = stackalloc byte[16];
        Assert.True(Kernel.Utf8Name(0, scratch).IsEmpty);
        Assert.Equal("", Kernel.Name(0));
    }
}
