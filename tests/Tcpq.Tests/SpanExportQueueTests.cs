using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Spans;

namespace Tcpq.Tests;

/// <summary>The exporter end to end against a collector on Kestrel (<see cref="OtlpCollector"/>):
/// every connection written reaches it once, in requests of many; a collector that holds its
/// answer fills the bounded handoff, and the connections that find no slot are left out and
/// counted instead of waited for; what the collector refused is counted as failed. Every
/// connection and every span is accounted for.</summary>
public class SpanExportQueueTests
{
    private static readonly WallClock Clock = new(DateTime.UtcNow, (long)Scenario.Start);

    private static ConnectionSpan Connection(int i) => new()
    {
        Key = new ConnectionKey(1, default, (ushort)(10000 + i), default, 80),
        FirstSynNs = Scenario.Ms(i), EstablishedNs = Scenario.Ms(i + 0.1), AcceptNs = Scenario.Ms(i + 0.2), EndNs = Scenario.Ms(i + 0.3),
    };

    private static OtlpTraceEndpoint Endpoint(OtlpCollector c) => new(new Uri(c.Url), c.Grpc, [], false, TimeSpan.FromSeconds(10));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_connection_reaches_the_collector_once(bool grpc)
    {
        await using var collector = OtlpCollector.Start(grpc);
        using var exporter = new ConnectionSpanExporter(Endpoint(collector), Clock, new SpanExportLimits { BatchBytes = 16 << 10, HandoffWake = TimeSpan.FromMilliseconds(5) });
        int written = 0;
        var span = new ConnectionSpan();
        while (written < 3000)
        {
            long before = exporter.ConnectionsDropped;
            Connection(written).CopyTo(span);
            exporter.Write(span);
            if (exporter.ConnectionsDropped == before) written++;
            else Thread.Sleep(1); // only so that none is left out here: the command's reader never waits
        }
        Assert.True(exporter.Complete(TimeSpan.FromSeconds(20)));
        var roots = collector.Requests.SelectMany(r => r.Request.ResourceSpans.Single().ScopeSpans.Single().Spans).Where(s => s.ParentSpanId.IsEmpty).ToList();
        Assert.True(collector.Requests.Count > 1, "16 KiB requests: more than one");
        Assert.Equal(Enumerable.Range(10000, 3000).Select(p => (long)p).Order(), roots.Select(r => r.Attributes.Single(a => a.Key == "client.port").Value.IntValue).Order());
        Assert.Equal((9000L, 9000L, 0L), (exporter.Spans, exporter.SpansExported, exporter.SpansFailed));
    }

    [Fact]
    public async Task A_collector_that_holds_its_answer_makes_connections_left_out_counted_and_a_refusal_counts_as_failed()
    {
        await using var collector = OtlpCollector.Start(grpc: false);
        collector.Open.Reset(); // the first request waits for its answer
        collector.Answer = n => n == 1 ? (200, null, null, []) : (400, null, null, []);
        using var exporter = new ConnectionSpanExporter(Endpoint(collector), Clock,
            new SpanExportLimits { HandoffSlots = 16, BatchBytes = 1, HandoffWake = TimeSpan.FromMilliseconds(5) });
        var span = new ConnectionSpan();
        Connection(0).CopyTo(span);
        exporter.Write(span); // alone in its request (BatchBytes 1), which the collector holds
        while (collector.Requests.IsEmpty) Thread.Sleep(5);
        for (int i = 1; i <= 100; i++)
        {
            Connection(i).CopyTo(span);
            exporter.Write(span);
        }
        Assert.Equal((101L, 85L), (exporter.Connections, exporter.ConnectionsDropped)); // 16 slots, the rest left out at once
        collector.Open.Set();
        Assert.True(exporter.Complete(TimeSpan.FromSeconds(20)));
        Assert.Equal(16, exporter.ConnectionsSent);
        Assert.Equal(exporter.Connections, exporter.ConnectionsSent + exporter.ConnectionsDropped);
        Assert.Equal((48L, 3L, 45L), (exporter.Spans, exporter.SpansExported, exporter.SpansFailed));
        Assert.Equal("the collector answered 400 Bad Request", exporter.LastFailure);
    }
}
