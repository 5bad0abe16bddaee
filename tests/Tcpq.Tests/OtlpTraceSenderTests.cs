using System.Net;
using System.Net.Sockets;
using Tcpq.Events;
using Tcpq.Spans;

namespace Tcpq.Tests;

/// <summary>What tcpq's span sender puts on the wire and how it takes the answers, against a
/// collector on Kestrel over real loopback sockets (<see cref="OtlpCollector"/>): OTLP/HTTP and
/// OTLP/gRPC, gzip, the backend's headers, retries where the OTLP specification allows them.</summary>
public class OtlpTraceSenderTests
{
    private static readonly WallClock Clock = new(DateTime.UtcNow, (long)Scenario.Start);
    private static readonly KeyValuePair<string, string>[] Token = [new("authorization", "Bearer s3cret token"), new("x-tenant", "shop")];

    /// <summary>A request of <paramref name="connections"/> connections (2 spans each).</summary>
    private static OtlpTraceEncoder Encoded(int connections)
    {
        var encoder = new OtlpTraceEncoder(Clock, "tcpq", "1.0.0", "i", "h");
        for (int i = 0; i < connections; i++)
            encoder.Add(new ConnectionSpan { Key = OtlpTraceEncoderTests.Key("10.0.0.1", 80, "10.0.0.2", (ushort)(2000 + i)), FirstSynNs = Scenario.Ms(i), EstablishedNs = Scenario.Ms(i + 1), EndNs = Scenario.Ms(i + 1) });
        return encoder;
    }

    private static OtlpTraceSender Sender(OtlpCollector c, bool gzip = false, TimeSpan? timeout = null) =>
        new(new OtlpTraceEndpoint(new Uri(c.Url), c.Grpc, Token, gzip, timeout ?? TimeSpan.FromSeconds(10)), "1.0.0");

    private static DateTime In(double seconds) => DateTime.UtcNow + TimeSpan.FromSeconds(seconds);

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task A_request_reaches_the_collector_whole_with_the_backends_headers(bool grpc, bool gzip)
    {
        await using var collector = OtlpCollector.Start(grpc);
        using var sender = Sender(collector, gzip);
        Assert.True(sender.Send(Encoded(3).Request(), In(20)));
        var r = Assert.Single(collector.Requests);
        Assert.Equal(grpc ? ("/opentelemetry.proto.collector.trace.v1.TraceService/Export", "HTTP/2", "application/grpc") : ("/v1/traces", "HTTP/1.1", "application/x-protobuf"),
            (r.Path, r.Protocol, r.ContentType));
        Assert.Equal(gzip, r.Compressed);
        if (grpc) Assert.Equal("trailers", r.Headers["te"]);
        if (grpc && gzip) Assert.Equal("gzip", r.Headers["grpc-encoding"]);
        Assert.Equal(("Bearer s3cret token", "shop"), (r.Headers["authorization"], r.Headers["x-tenant"]));
        Assert.Equal(6, r.Request.ResourceSpans.Single().ScopeSpans.Single().Spans.Count);
        Assert.Null(sender.LastFailure);
    }

    [Fact]
    public async Task An_http_429_or_503_is_tried_again_after_retry_after_and_a_400_is_not()
    {
        await using var collector = OtlpCollector.Start(grpc: false);
        collector.Answer = n => n switch
        {
            1 => (503, null, null, [("Retry-After", "0")]),
            2 => (429, null, null, [("Retry-After", "0")]),
            3 => (200, null, null, []),
            _ => (400, null, null, []),
        };
        using var sender = Sender(collector);
        Assert.True(sender.Send(Encoded(1).Request(), In(20)));
        Assert.Equal((3, 2L), (collector.Requests.Count, sender.Retries));
        Assert.False(sender.Send(Encoded(1).Request(), In(20)));
        Assert.Equal((4, 2L), (collector.Requests.Count, sender.Retries)); // not tried again
        Assert.Equal("the collector answered 400 Bad Request", sender.LastFailure);
    }

    [Fact]
    public async Task A_grpc_unavailable_is_tried_again_and_invalid_argument_is_said_with_its_message()
    {
        await using var collector = OtlpCollector.Start(grpc: true);
        collector.Answer = n => n switch
        {
            1 => (200, 14, "overloaded", []),
            2 => (200, 0, null, []),
            _ => (200, 3, "bad\nspan", []),
        };
        using var sender = Sender(collector);
        Assert.True(sender.Send(Encoded(1).Request(), In(20)));
        Assert.Equal((2, 1L), (collector.Requests.Count, sender.Retries));
        Assert.False(sender.Send(Encoded(1).Request(), In(20)));
        Assert.Equal(3, collector.Requests.Count);
        Assert.Equal("the collector answered gRPC status 3 INVALID_ARGUMENT: bad?span", sender.LastFailure); // no line break reaches a terminal
    }

    [Fact]
    public async Task Retries_stop_at_the_deadline()
    {
        await using var collector = OtlpCollector.Start(grpc: false);
        collector.Answer = _ => (503, null, null, [("Retry-After", "30")]);
        using var sender = Sender(collector);
        Assert.False(sender.Send(Encoded(1).Request(), In(5)));
        Assert.Equal((1, 0L), (collector.Requests.Count, sender.Retries)); // 30 s is past the deadline: not waited for
        Assert.Equal("the collector answered 503 Service Unavailable", sender.LastFailure);
    }

    [Fact]
    public void A_collector_that_is_not_there_is_said_once_and_not_tried_again()
    {
        int port;
        using (var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)s.LocalEndPoint!).Port; // closed again: nobody listens there
        }
        foreach (bool grpc in new[] { false, true })
        {
            using var sender = new OtlpTraceSender(new OtlpTraceEndpoint(new Uri($"http://127.0.0.1:{port}/v1/traces"), grpc, [], false, TimeSpan.FromSeconds(5)), "1");
            Assert.False(sender.Send(Encoded(1).Request(), In(20)));
            Assert.StartsWith("could not connect", sender.LastFailure);
            Assert.Equal(0, sender.Retries);
        }
    }

    [Fact]
    public void A_collector_that_never_answers_is_no_answer_in_time()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen(16); // the kernel completes the handshakes; nobody ever reads or answers
        var url = new Uri($"http://127.0.0.1:{((IPEndPoint)silent.LocalEndPoint!).Port}/v1/traces");
        using var sender = new OtlpTraceSender(new OtlpTraceEndpoint(url, false, [], false, TimeSpan.FromMilliseconds(300)), "1");
        Assert.False(sender.Send(Encoded(1).Request(), In(1.5)));
        Assert.Equal("no answer in time", sender.LastFailure);
    }
}
