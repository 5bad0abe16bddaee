using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Tests;

public class SeedEventWriterTests
{
    private const ulong Ts = 185458485779874;

    /// <summary>Renders events through a seed writer whose clock maps <see cref="Ts"/> to <paramref name="utc"/>.</summary>
    private static string[] Lines(DateTime utc, params TcpqEvent[] events)
    {
        var context = new EventContext(new WallClock(utc, (long)Ts), DropReasons.Empty);
        var lines = TestEvents.Lines(TestEvents.Render(s => new SeedEventWriter(s, context), events));
        foreach (var line in lines) Assert.Equal(9, Rfc4180.Split(line).Count);
        return lines;
    }

    private static TcpqEvent SeedSyn()
    {
        var e = TestEvents.Syn();
        e.TsNs = Ts;
        e.QMax = 2;
        return e;
    }

    [Fact]
    public void The_header_is_the_seeds_nine_columns()
    {
        Assert.Equal(["TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax"], Lines(DateTime.UnixEpoch));
    }

    [Fact]
    public void A_syn_row_is_as_the_seed_printed_it()
    {
        var lines = Lines(new DateTime(2016, 8, 11, 15, 58, 52, DateTimeKind.Utc), SeedSyn());
        Assert.Equal("185458485779874,2016 Aug 11 15:58:52,syn,0x01aa10ac,50066,2000,0,2,2", lines[1]);
    }

    [Fact]
    public void A_single_digit_day_is_padded_with_a_space_as_dtraces_Y_does()
    {
        // DTrace's %Y is ctime(3) rearranged: "1973 Dec  3 17:20:00"
        var lines = Lines(new DateTime(2016, 8, 3, 9, 5, 7, 999, DateTimeKind.Utc), SeedSyn());
        Assert.Equal("2016 Aug  3 09:05:07", lines[1].Split(',')[1]);
    }

    [Fact]
    public void Queues_are_empty_when_not_known()
    {
        var e = SeedSyn();
        e.Kind = EventKind.Accept;
        e.Flags = EventFlags.None;
        var lines = Lines(new DateTime(2016, 8, 11, 15, 58, 52, DateTimeKind.Utc), e);
        Assert.EndsWith(",accept,0x01aa10ac,50066,2000,,,", lines[1]);
    }

    [Fact]
    public void An_ipv6_client_prints_as_text()
    {
        var e = SeedSyn();
        TestEvents.SetAddress(ref e.SourceAddress, "2001:db8::1");
        var lines = Lines(new DateTime(2016, 8, 11, 15, 58, 52, DateTimeKind.Utc), e);
        Assert.Equal("2001:db8::1", lines[1].Split(',')[3]);
    }
}
