using System.Net;
using System.Net.Sockets;
using OpenTelemetry.Exporter;
using Tcpq.Events;
using Tcpq.Spans;

namespace Tcpq.Tests;

/// <summary>The exporter's bound: spans not yet sent are counted against the queue, so a collector
/// that does not answer makes tcpq leave connections out (counted) instead of holding them, and
/// what it never took is counted as failed. A loopback listener that accepts and never answers
/// plays that collector.</summary>
[Collection(ActivityTests.Name)]
public class SpanExportQueueTests
{
    [Fact]
    public void A_collector_that_does_not_answer_fills_the_queue_and_every_span_is_accounted_for()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen(16); // the kernel completes the handshakes; nobody ever reads or answers
        var endpoint = new Uri($"http://127.0.0.1:{((IPEndPoint)silent.LocalEndPoint!).Port}/v1/traces");
        var otlp = new OtlpExporterOptions { Endpoint = endpoint, Protocol = OtlpExportProtocol.HttpProtobuf, TimeoutMilliseconds = 1000 };
        var clock = new WallClock(DateTime.UtcNow, (long)Scenario.Start);
        using var exporter = new ConnectionSpanExporter(otlp, clock, new SpanExportLimits { QueueSpans = 10, BatchSpans = 4, Delay = TimeSpan.FromHours(1) });

        for (int i = 0; i < 6; i++)
        {
            // a connection of two spans: the connection and its handshake
            var span = new ConnectionSpan { FirstSynNs = Scenario.Ms(i), EstablishedNs = Scenario.Ms(i + 0.1), EndNs = Scenario.Ms(i + 0.2) };
            span.Key = new Connections.ConnectionKey(1, default, (ushort)(40000 + i), default, 80);
            exporter.Write(span);
        }
        // room is kept for a connection's five possible spans: 2 + 2 + 2 leave 4 free of 10, too few
        Assert.Equal((6L, 3L, 3L, 6L), (exporter.Connections, exporter.ConnectionsSent, exporter.ConnectionsDropped, exporter.Spans));

        Assert.True(exporter.Shutdown(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, exporter.SpansExported);
        Assert.Equal(6, exporter.SpansFailed); // none lost without a count
        Assert.Equal("no answer in time", exporter.LastFailure);
    }
}
