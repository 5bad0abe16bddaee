using Tcpq.Aggregates;
using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Top;

namespace Tcpq.Tests;

/// <summary>The view model of <c>tcpq top</c>: rates from the difference of two readings, the
/// interval's latencies, worst first, the sort keys, and how the numbers read.</summary>
public class TopViewTests
{
    internal static ListenerKey Key(ushort port, string address = "127.0.0.1", uint netns = 4026531840)
    {
        var a = new Address16();
        TestEvents.SetAddress(ref a, address);
        return new ListenerKey(netns, a, port);
    }

    internal static AggregateSnapshot Snapshot(double seconds, params ListenerAggregate[] listeners) =>
        new(new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddSeconds(seconds), (ulong)(1_000_000_000_000 + seconds * 1e9),
            listeners, null, new AggregateCost(0, 0, null, 0));

    private static TopRow Row(ushort port, double drops = 0, uint q = 0, uint qmax = 128, Severity? severity = null, ulong? waitP99 = null, double arrivals = 0) =>
        new(Key(port), arrivals, 0, q, qmax, q, 0, drops, [], 0, null, null, null, waitP99,
            severity is Severity s ? new Finding("rule", s, $":{port}", "words") : null);

    [Fact]
    public void Rates_are_the_difference_of_two_readings_over_the_time_between_them()
    {
        var a = new ListenerAggregate(Key(2000)) { Syns = 10, SynRetries = 2, Accepts = 5, SynCookies = 1 };
        a.SynDrops[DropReasons.AcceptQueueFull] = 3;
        var first = TopReading.Of(Snapshot(0, a));

        // the same object, counted on: a source may hand out its live aggregates
        a.Syns = 30; a.SynRetries = 6; a.Accepts = 15; a.SynCookies = 5;
        a.SynDrops[DropReasons.AcceptQueueFull] = 7;
        a.AckDrops[DropReasons.AcceptQueueFull] = 2;
        a.SynDrops[DropReasons.SynQueueFull] = 1;
        (a.Q, a.QMax, a.PeakQ, a.Q0) = (4, 4, 5, 2);
        var second = TopReading.Of(Snapshot(2, a));

        var row = Assert.Single(TopView.Rows(first, second, DropReasons.Empty, null));
        Assert.Equal(8, row.ArrivalsPerSecond);          // (30-6 - (10-2)) / 2
        Assert.Equal(5, row.AcceptsPerSecond);
        Assert.Equal(2, row.CookiesPerSecond);
        Assert.Equal(3.5, row.DropsPerSecond);            // (4 + 2 + 1) / 2
        Assert.Equal([("accept-queue-full", 3.0), ("syn-queue-full", 0.5)], row.DropsByReason);
        Assert.Equal((4u, 4u, 5u, 2u), (row.Q, row.QMax, row.PeakQ, row.Q0));
    }

    [Fact]
    public void A_listener_new_in_the_second_reading_counts_from_zero_and_the_first_frame_has_no_rates()
    {
        var empty = TopReading.Of(Snapshot(0));
        var a = new ListenerAggregate(Key(80)) { Syns = 4, Accepts = 4 };
        var second = TopReading.Of(Snapshot(0.5, a));
        Assert.Equal(8, Assert.Single(TopView.Rows(empty, second, DropReasons.Empty, null)).AcceptsPerSecond);
        Assert.Equal(0, Assert.Single(TopView.Rows(null, second, DropReasons.Empty, null)).AcceptsPerSecond);
    }

    [Fact]
    public void Latency_percentiles_are_those_of_the_interval_alone()
    {
        var a = new ListenerAggregate(Key(2000));
        for (int i = 0; i < 100; i++) a.QueueWait.RecordNs(3_000_000_000); // 3 s each, before
        var first = TopReading.Of(Snapshot(0, a));
        for (int i = 0; i < 99; i++) a.QueueWait.RecordNs(100_000);       // 100 µs: bucket [64, 128)
        a.QueueWait.RecordNs(5_000_000);                                   // 5 ms: bucket [4096, 8192)
        var second = TopReading.Of(Snapshot(1, a));

        var row = Assert.Single(TopView.Rows(first, second, DropReasons.Empty, null));
        Assert.Equal(128UL, row.WaitP50Us);
        Assert.Equal(128UL, row.WaitP99Us);
        Assert.Null(row.HandshakeP50Us); // no handshake completed in the interval
        a.QueueWait.RecordNs(5_000_000);
        Assert.Equal(8192UL, Assert.Single(TopView.Rows(second, TopReading.Of(Snapshot(2, a)), DropReasons.Empty, null)).WaitP99Us);
    }

    [Fact]
    public void Worst_first_puts_the_diagnosis_first_then_drops_then_a_full_queue_then_the_wait()
    {
        var rows = new[]
        {
            Row(1, arrivals: 1000),
            Row(2, waitP99: 512),
            Row(3, q: 100, qmax: 128),
            Row(4, drops: 5),
            Row(5, severity: Severity.Warning),
            Row(6, severity: Severity.Critical),
            Row(7, drops: 50),
        };
        Assert.Equal([6, 5, 7, 4, 3, 2, 1], TopView.Sorted(rows, TopSort.Worst, reversed: false).Select(r => (int)r.Key.Port));
        Assert.Equal([1, 2, 3, 4, 7, 5, 6], TopView.Sorted(rows, TopSort.Worst, reversed: true).Select(r => (int)r.Key.Port));
    }

    [Fact]
    public void A_column_sorts_largest_first_ties_worst_first_and_the_listener_column_by_port()
    {
        var rows = new[] { Row(443, drops: 1), Row(80, drops: 9), Row(22, drops: 1, severity: Severity.Warning) };
        Assert.Equal([80, 22, 443], TopView.Sorted(rows, TopSort.Drops, false).Select(r => (int)r.Key.Port));
        Assert.Equal([22, 80, 443], TopView.Sorted(rows, TopSort.Listener, false).Select(r => (int)r.Key.Port));
        Assert.Equal([443, 80, 22], TopView.Sorted(rows, TopSort.Listener, true).Select(r => (int)r.Key.Port));
    }

    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(0.04, "0")]
    [InlineData(0.5, "0.5")]
    [InlineData(12.34, "12.3")]
    [InlineData(99.96, "100")]
    [InlineData(1234.4, "1234")]
    public void Rates_read_with_a_tenth_below_100(double perSecond, string text) => Assert.Equal(text, TopColumns.Rate(perSecond));

    [Theory]
    [InlineData(null, "-")]
    [InlineData(1UL, "<1µs")]
    [InlineData(512UL, "<512µs")]
    [InlineData(4096UL, "<4.1ms")]
    [InlineData(262144UL, "<262ms")]
    [InlineData(1048576UL, "<1.05s")]
    [InlineData(ulong.MaxValue, ">17min")]
    public void Latencies_read_as_the_upper_bound_of_their_bucket(ulong? us, string text) => Assert.Equal(text, TopColumns.Latency(us));

    [Theory]
    [InlineData("127.0.0.1", 2000, "127.0.0.1:2000")]
    [InlineData("::", 443, "*:443")]          // every address (or unknown: the seed format has none)
    [InlineData("::1", 443, "[::1]:443")]
    [InlineData("0.0.0.0", 80, "0.0.0.0:80")]
    public void A_listener_reads_as_address_and_port(string address, int port, string label) =>
        Assert.Equal(label, (Row((ushort)port) with { Key = Key((ushort)port, address) }).Label);

    [Fact]
    public void The_sort_keys_move_along_the_columns_and_wrap()
    {
        var state = new TopState(TopSort.Worst);
        Assert.True(state.Apply(new ConsoleKeyInfo('>', ConsoleKey.OemPeriod, true, false, false)));
        Assert.Equal(TopSort.Listener, state.Sort);
        state.Apply(new ConsoleKeyInfo('r', ConsoleKey.R, false, false, false));
        Assert.True(state.Reversed);
        state.Apply(new ConsoleKeyInfo('<', ConsoleKey.OemComma, true, false, false));
        state.Apply(new ConsoleKeyInfo('<', ConsoleKey.OemComma, true, false, false));
        Assert.Equal(TopSort.Wait, state.Sort);
        Assert.False(state.Reversed);
        state.Apply(new ConsoleKeyInfo('p', ConsoleKey.P, false, false, false));
        Assert.True(state.Paused);
        state.Apply(new ConsoleKeyInfo('w', ConsoleKey.W, false, false, false));
        Assert.Equal(TopSort.Worst, state.Sort);
        Assert.False(state.Quit);
        Assert.False(state.Apply(new ConsoleKeyInfo('q', ConsoleKey.Q, false, false, false)));
        Assert.True(state.Quit);
    }

    [Fact]
    public void A_narrow_terminal_keeps_the_listener_the_rates_the_queue_and_the_drops()
    {
        var rows = new[] { Row(2000, drops: 12, q: 5, qmax: 4) };
        var all = TopColumns.For(rows);
        Assert.Equal(all, TopColumns.Fit(all, rows, 400, 3));
        var narrow = TopColumns.Fit(all, rows, 80, 3).Select(c => c.Heading).ToList();
        Assert.Equal(["LISTENER", "ARR/s", "ACC/s", "Q", "QMAX", "DROP/s"], narrow.Take(6));
        Assert.True(narrow.Sum(h => all.First(c => c.Heading == h).Text(rows[0]).Length + 3) <= 80);
    }
}
