using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Tests;

public class CsvEventWriterTests
{
    private static string[] Rows(DropReasons? reasons, params TcpqEvent[] events)
    {
        var lines = TestEvents.Lines(TestEvents.Render(s => new CsvEventWriter(s, TestEvents.Context(reasons)), events));
        foreach (var line in lines) Assert.Equal(20, Rfc4180.Split(line).Count);
        return lines[1..];
    }

    private static string[] Rows(params TcpqEvent[] events) => Rows(null, events);

    [Fact]
    public void The_header_names_the_seed_columns_then_tcpqs()
    {
        var lines = TestEvents.Lines(TestEvents.Render(s => new CsvEventWriter(s, TestEvents.Context())));
        Assert.Equal(["TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax,Dest IP,Attempt,Wait us,PID,Comm,Reason,Bytes In,Bytes Out,Data Age us,Closed By,Reset"], lines);
    }

    [Fact]
    public void A_syn_row_carries_its_queues_and_attempt()
    {
        Assert.Equal(["1001234567000,2024-05-06T07:08:10.234567Z,syn,172.16.170.1,50066,2000,0,2,128,10.0.0.5,1,,,,,,,,,"], Rows(TestEvents.Syn()));
    }

    [Fact]
    public void Fields_whose_flag_is_not_set_are_empty()
    {
        var row = Rfc4180.Split(Rows(TestEvents.Accept(EventFlags.None))[0]);
        Assert.Equal(["accept", "", "", "", "", "", "", "", ""], [row[2], row[6], row[7], row[8], row[10], row[11], row[12], row[13], row[14]]);
    }

    [Fact]
    public void Fields_whose_flag_is_set_are_printed()
    {
        var all = EventFlags.Queues | EventFlags.Wait | EventFlags.Attempt | EventFlags.Task;
        Assert.Equal(["1001234567000,2024-05-06T07:08:10.234567Z,accept,172.16.170.1,50066,2000,3,2,128,10.0.0.5,1,1234,4242,nginx,,,,,,"], Rows(TestEvents.Accept(all)));
    }

    [Fact]
    public void Wait_is_in_whole_microseconds()
    {
        var e = TestEvents.Accept(EventFlags.Wait);
        e.WaitNs = 999;
        var e2 = TestEvents.Accept(EventFlags.Wait);
        e2.WaitNs = 3_000_000_001;
        var rows = Rows(e, e2);
        Assert.Equal("0", Rfc4180.Split(rows[0])[11]);
        Assert.Equal("3000000", Rfc4180.Split(rows[1])[11]);
    }

    [Fact]
    public void The_date_is_iso_8601_utc_with_microseconds_from_the_clock()
    {
        var e = TestEvents.Syn();
        e.TsNs = TestEvents.ClockMonotonicNs - 8_999_999_001; // 07:08:00.000000999, before the reference
        Assert.Equal("2024-05-06T07:08:00.000000Z", Rfc4180.Split(Rows(e)[0])[1]);
        e.TsNs = TestEvents.ClockMonotonicNs + 86_400_000_000_000 + 1_999; // a day later
        Assert.Equal("2024-05-07T07:08:09.000001Z", Rfc4180.Split(Rows(e)[0])[1]);
    }

    [Theory]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("plain", "plain")]
    [InlineData("0123456789abcdef", "0123456789abcdef")] // 16 bytes, no NUL
    public void A_comm_is_quoted_as_rfc_4180_says(string comm, string expected)
    {
        var row = Rows(TestEvents.Accept(EventFlags.Task, comm))[0];
        Assert.EndsWith($",4242,{expected},,,,,,", row);
        Assert.Equal(comm, Rfc4180.Split(row)[13]);
    }

    [Theory]
    [InlineData(0u, "")]
    [InlineData(DropReasons.AcceptQueueFull, "accept-queue-full")]
    [InlineData(DropReasons.SynQueueFull, "syn-queue-full")]
    [InlineData(40u, "TCP_LISTEN_OVERFLOW")]
    [InlineData(77u, "77")]
    public void The_reason_is_named(uint reason, string expected)
    {
        var e = TestEvents.Syn();
        e.Kind = EventKind.SynDrop;
        e.Reason = reason;
        var reasons = new DropReasons(new Dictionary<uint, string> { [40] = "SKB_DROP_REASON_TCP_LISTEN_OVERFLOW" });
        var row = Rfc4180.Split(Rows(reasons, e)[0]);
        Assert.Equal(("syn-drop", expected), (row[2], row[14]));
    }

    [Fact]
    public void An_ipv6_client_prints_in_rfc_5952_form()
    {
        var e = TestEvents.Syn();
        TestEvents.SetAddress(ref e.SourceAddress, "2001:db8:0:0:1:0:0:1");
        TestEvents.SetAddress(ref e.DestAddress, "::1");
        var row = Rfc4180.Split(Rows(e)[0]);
        Assert.Equal(("2001:db8::1:0:0:1", "::1"), (row[3], row[9]));
    }

    [Fact]
    public void Many_rows_come_out_whole_and_in_order()
    {
        var events = new TcpqEvent[2000];
        for (int i = 0; i < events.Length; i++)
        {
            events[i] = TestEvents.Accept(EventFlags.Task | EventFlags.Attempt, i % 2 == 0 ? "a,b" : "x\"y");
            events[i].Attempt = (uint)i;
        }
        var rows = Rows(events);
        Assert.Equal(events.Length, rows.Length);
        for (int i = 0; i < rows.Length; i++) Assert.Equal(i.ToString(), Rfc4180.Split(rows[i])[10]);
    }

    [Fact]
    public void Application_rows_fill_the_five_columns_after_the_fifteen()
    {
        var read = TestEvents.Accept(EventFlags.Wait | EventFlags.Task | EventFlags.Bytes | EventFlags.DataAge);
        read.Kind = EventKind.FirstRead;
        (read.BytesIn, read.BytesOut, read.DataAgeNs) = (120, 0, 2_500_000_999);
        var close = TestEvents.Accept(EventFlags.Wait | EventFlags.Bytes | EventFlags.Closer);
        close.Kind = EventKind.Close;
        (close.BytesIn, close.BytesOut, close.Closer, close.Reset) = (120, 4096, Closer.Peer, 1);
        var rows = Rows(read, close);
        Assert.Equal(["first-read", "1234", "4242", "nginx", "", "120", "0", "2500000", "", ""], Rfc4180.Split(rows[0])[2..].Where((_, i) => i is 0 or >= 9).ToList());
        Assert.EndsWith(",1234,,,,120,4096,,peer,yes", rows[1]);
        Assert.StartsWith("1001234567000,2024-05-06T07:08:10.234567Z,close,", rows[1]);
    }
}
