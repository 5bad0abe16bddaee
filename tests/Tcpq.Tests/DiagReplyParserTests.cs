using System.Buffers.Binary;
using Tcpq.Diag;
using Tcpq.Events;
using static Tcpq.Diag.NetlinkMessages;
using static Tcpq.Tests.DiagFixtures;

namespace Tcpq.Tests;

public class DiagReplyParserTests
{
    [Fact]
    public void Reads_a_recorded_IPv4_listener_with_two_queued_connections_and_one_drop()
    {
        var sockets = new List<DiagSocket>();
        Assert.False(DiagReplyParser.Parse(RecordedV4, RecordedSeq, sockets));
        var l = Assert.Single(sockets);
        Assert.Equal((AF_INET, TcpState.Listen), (l.Family, l.State));
        Assert.Equal("127.0.0.1", l.LocalAddress.ToString());
        Assert.Equal(8080, l.LocalPort);
        Assert.Equal((2u, 1u), (l.Q, l.QMax));
        Assert.Equal(1u, l.Drops);
        Assert.Equal(94274u, l.Inode);
        Assert.Equal(0x1008ul, l.Cookie);
        Assert.Equal(1ul, l.CgroupId); // INET_DIAG_CGROUP_ID, sent unasked: the root cgroup's id
    }

    [Fact]
    public void Reads_a_recorded_IPv6_listener_and_the_end_of_the_dump()
    {
        var sockets = new List<DiagSocket>();
        Assert.False(DiagReplyParser.Parse(RecordedV6, RecordedSeq, sockets));
        Assert.True(DiagReplyParser.Parse(RecordedDone, RecordedSeq, sockets));
        var l = Assert.Single(sockets);
        Assert.Equal((AF_INET6, "::1", (ushort)8443), (l.Family, l.LocalAddress.ToString(), l.LocalPort));
        Assert.Equal((0u, 5u, (uint?)0u), (l.Q, l.QMax, l.Drops));
    }

    [Fact]
    public void Reads_several_messages_in_one_datagram_and_a_request_socket_with_the_listeners_port()
    {
        var request = Socket(TcpState.SynRecv, "10.0.0.1", 443, "10.0.0.9", 51000, cookie: 0x1_0000_0002);
        var listener = Socket(TcpState.Listen, "::", 443, "::", 0, inode: 77, q: 3, qmax: 128, drops: 9, cookie: 5);
        byte[] datagram = [.. Message(listener, 1), .. Message(request, 1), .. Done(1)];
        var sockets = new List<DiagSocket>();
        Assert.True(DiagReplyParser.Parse(datagram, 1, sockets));
        Assert.Equal([listener, request], sockets);
    }

    [Fact]
    public void Skips_a_stale_reply_of_another_sequence_number()
    {
        var sockets = new List<DiagSocket>();
        Assert.False(DiagReplyParser.Parse(RecordedV4, RecordedSeq + 1, sockets));
        Assert.False(DiagReplyParser.Parse(RecordedDone, RecordedSeq + 1, sockets));
        Assert.Empty(sockets);
    }

    [Fact]
    public void A_kernel_without_SK_MEMINFO_DROPS_gives_no_drop_count()
    {
        var s = Socket(TcpState.Listen, "0.0.0.0", 80, drops: 4);
        var parsed = DiagReplyParser.ParseSocket(Message(s, 1, memInfoCounters: 8).AsSpan(HeaderSize));
        Assert.Null(parsed.Drops);
    }

    [Theory]
    [InlineData(-1, ExitCode.NoPermission)]
    [InlineData(-13, ExitCode.NoPermission)]
    [InlineData(-2, ExitCode.UnsupportedKernel)]
    [InlineData(-22, ExitCode.Failure)]
    public void A_kernel_error_is_one_line_with_its_exit_code(int error, ExitCode code)
    {
        var e = Assert.Throws<TcpqException>(() => DiagReplyParser.Parse(Error(3, error), 3, new List<DiagSocket>()));
        Assert.Equal(code, e.Code);
        Assert.DoesNotContain('\n', e.Message);
        var done = Assert.Throws<TcpqException>(() => DiagReplyParser.Parse(Done(3, error), 3, new List<DiagSocket>()));
        Assert.Equal(code, done.Code);
    }

    [Fact]
    public void An_acknowledgement_is_not_an_error()
    {
        Assert.False(DiagReplyParser.Parse(Error(3, 0), 3, new List<DiagSocket>()));
    }

    public static TheoryData<string, byte[]> MalformedReplies()
    {
        var good = Message(Socket(TcpState.Listen, "127.0.0.1", 80, inode: 1, q: 1, qmax: 2, drops: 3), 1);
        byte[] With(Action<byte[]> change) { var b = (byte[])good.Clone(); change(b); return b; }
        return new()
        {
            { "length below the header", With(b => BinaryPrimitives.WriteUInt32LittleEndian(b, 8)) },
            { "length beyond the datagram", With(b => BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)b.Length + 4)) },
            { "truncated inside the header", good[..10] },
            { "truncated inside the socket", good[..(HeaderSize + 40)] },
            { "inet_diag_msg too short", With(b => BinaryPrimitives.WriteUInt32LittleEndian(b, HeaderSize + 40))[..(HeaderSize + 40)] },
            { "unknown address family", With(b => b[HeaderSize] = 99) },
            { "attribute shorter than its header", With(b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(HeaderSize + DiagMsgSize), 2)) },
            { "attribute longer than the message", With(b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(HeaderSize + DiagMsgSize), 400)) },
            { "overrun", With(b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4), NLMSG_OVERRUN)) },
            { "error without its code", With(b => { BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4), NLMSG_ERROR); BinaryPrimitives.WriteUInt32LittleEndian(b, HeaderSize + 2); }) },
        };
    }

    [Theory]
    [MemberData(nameof(MalformedReplies))]
    public void A_malformed_reply_is_a_one_line_error_saying_so(string what, byte[] datagram)
    {
        var e = Assert.Throws<TcpqException>(() => DiagReplyParser.Parse(datagram, 1, new List<DiagSocket>()));
        Assert.Equal(ExitCode.Failure, e.Code);
        Assert.StartsWith("malformed sock_diag reply", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.NotEmpty(what);
    }

    [Fact]
    public void Every_truncation_of_a_recorded_reply_is_rejected_and_nothing_else_is_thrown()
    {
        byte[] full = [.. RecordedV4, .. RecordedDone];
        for (int n = 1; n < full.Length; n++)
        {
            if (n == RecordedV4.Length) continue; // a whole message: a valid (unfinished) datagram
            var e = Assert.Throws<TcpqException>(() => DiagReplyParser.Parse(full.AsSpan(0, n), RecordedSeq, new List<DiagSocket>()));
            Assert.StartsWith("malformed", e.Message);
        }
    }

    [Fact]
    public void Property_random_corruptions_of_real_replies_never_throw_anything_but_a_TcpqException()
    {
        byte[][] seeds = [RecordedV4, RecordedV6, [.. RecordedV4, .. RecordedV6, .. RecordedDone]];
        var random = new Random(20240611);
        for (int i = 0; i < 20_000; i++)
        {
            var b = (byte[])seeds[i % seeds.Length].Clone();
            int flips = 1 + random.Next(6);
            for (int f = 0; f < flips; f++) b[random.Next(b.Length)] = (byte)random.Next(256);
            int length = random.Next(4) == 0 ? random.Next(b.Length + 1) : b.Length;
            try { DiagReplyParser.Parse(b.AsSpan(0, length), RecordedSeq, new List<DiagSocket>()); }
            catch (TcpqException) { }
        }
    }

    [Fact]
    public void Property_random_bytes_never_throw_anything_but_a_TcpqException()
    {
        var random = new Random(7);
        for (int i = 0; i < 20_000; i++)
        {
            var b = new byte[random.Next(0, 300)];
            random.NextBytes(b);
            if (b.Length >= 4 && random.Next(2) == 0) BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)random.Next(0, b.Length + 8));
            try { DiagReplyParser.Parse(b, BinaryPrimitives.ReadUInt32LittleEndian(b.Length >= 12 ? b.AsSpan(8) : new byte[4]), new List<DiagSocket>()); }
            catch (TcpqException) { }
        }
    }

    [Fact]
    public void Property_any_socket_encoded_as_the_kernel_does_reads_back_the_same()
    {
        var random = new Random(42);
        for (int i = 0; i < 2_000; i++)
        {
            bool v4 = random.Next(2) == 0;
            Address16 Address()
            {
                var bytes = new byte[16];
                random.NextBytes(bytes);
                return v4 ? Address16.FromV4(bytes) : Address16.FromV6(bytes);
            }
            var s = new DiagSocket(v4 ? AF_INET : AF_INET6, (TcpState)random.Next(1, 13), Address(), (ushort)random.Next(65536),
                Address(), (ushort)random.Next(65536), (ulong)random.NextInt64(), (uint)random.Next(), (uint)random.Next(),
                (uint)random.Next(), (uint)random.Next(), random.Next(3) == 0 ? null : (uint)random.Next());
            var parsed = new List<DiagSocket>();
            DiagReplyParser.Parse(Message(s, 9), 9, parsed);
            Assert.Equal(s, Assert.Single(parsed));
        }
    }

    [Fact]
    public void The_dump_request_is_laid_out_as_inet_diag_req_v2()
    {
        var b = DumpRequest(AF_INET6, StateMask(TcpState.Listen, TcpState.SynRecv), ExtSkMemInfo, 0x01020304);
        Assert.Equal(72, b.Length);
        Assert.Equal(72u, BinaryPrimitives.ReadUInt32LittleEndian(b));
        Assert.Equal(SOCK_DIAG_BY_FAMILY, BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(4)));
        Assert.Equal(0x301, BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(6)));
        Assert.Equal(0x01020304u, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(8)));
        Assert.Equal(new byte[] { AF_INET6, IPPROTO_TCP, 0x40, 0 }, b[16..20]);
        Assert.Equal((1u << 10) | (1u << 3), BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(20)));
        Assert.All(b[24..], x => Assert.Equal(0, x));
    }
}
