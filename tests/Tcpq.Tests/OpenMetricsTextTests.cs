using Tcpq.Aggregates;
using Tcpq.Events;
using Tcpq.Serve;

namespace Tcpq.Tests;

/// <summary>The OpenMetrics exposition serve gives a scraper that asks for it: the text format's
/// figures, counter families named without _total, quotes escaped in HELP, and each histogram's
/// exemplar on the bucket its duration falls into.</summary>
public class OpenMetricsTextTests
{
    private static readonly ListenerKey Key = new(4026531840, Address16.FromV4([127, 0, 0, 1]), 8080);

    private static string Text()
    {
        var a = new ListenerAggregate(Key) { Syns = 3, Handshakes = 3 };
        a.QueueWait.RecordNs(600_000_000);
        a.QueueWait.RecordNs(20_000);
        var other = new ListenerAggregate(default);
        other.QueueWait.RecordNs(700_000_000);
        var snapshot = new AggregateSnapshot(DateTime.UtcNow, 1, [a], other, new AggregateCost(0, 0, null, 0));
        return PrometheusExposition.Write(snapshot, DropReasons.Empty, "ebpf");
    }

    [Fact]
    public void Counters_are_families_without_total_and_the_text_ends_with_eof()
    {
        var om = OpenMetricsText.From(Text(), null);
        Assert.Contains("# TYPE tcpq_syns counter\n", om);
        Assert.Contains("# HELP tcpq_syns SYNs", om);
        Assert.Contains("\ntcpq_syns_total{", om); // samples keep _total
        Assert.Contains("# TYPE tcpq_accept_queue_length gauge\n", om);
        Assert.DoesNotContain("# TYPE tcpq_syns_total", om);
        Assert.EndsWith("\n# EOF\n", om);
        Assert.DoesNotContain(" # {", om); // no exemplars without spans
        // HELP escapes quotes in OpenMetrics: server_address="other"
        Assert.Contains("server_address=\\\"other\\\"", om);
        Assert.Equal(Text().Split('\n').Count(l => l.Length > 0 && l[0] != '#'), om.Split('\n').Count(l => l.Length > 0 && l[0] != '#'));
    }

    [Fact]
    public void An_exemplar_goes_on_the_first_bucket_that_holds_its_duration_once()
    {
        var store = new ExemplarStore();
        store.Offer("tcpq_accept_queue_wait_seconds", Key, new Exemplar("0af7651916cd43dd8448eb211c80319c", 0.6, 1796644800.123));
        var lines = OpenMetricsText.From(Text(), store).Split('\n');
        var with = Assert.Single(lines, l => l.Contains(" # {", StringComparison.Ordinal));
        // 2^20 µs = 1.048576 s is the first bound at or above 0.6 s
        Assert.StartsWith("tcpq_accept_queue_wait_seconds_bucket{server_address=\"127.0.0.1\",server_port=\"8080\",network_type=\"ipv4\",netns=\"4026531840\",le=\"1.048576\"} 2 # {trace_id=\"0af7651916cd43dd8448eb211c80319c\"} 0.6 1796644800.123", with);
    }

    [Fact]
    public void Past_the_last_bound_an_exemplar_goes_on_inf()
    {
        var store = new ExemplarStore();
        store.Offer("tcpq_accept_queue_wait_seconds", Key, new Exemplar("0af7651916cd43dd8448eb211c80319c", 40, 1796644800));
        var with = Assert.Single(OpenMetricsText.From(Text(), store).Split('\n'), l => l.Contains(" # {", StringComparison.Ordinal));
        Assert.Contains("le=\"+Inf\"} 2 # {trace_id=", with);
    }

    [Fact]
    public async Task The_endpoint_answers_openmetrics_only_when_asked_and_only_with_spans()
    {
        static RenderedExposition Rendered(string text) => new(System.Text.Encoding.UTF8.GetBytes(text));
        var loopback = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0);
        using var plain = Tcpq.Serve.Web.MetricsEndpoint.Start(loopback).Serve(() => Rendered(Text()));
        using var spans = Tcpq.Serve.Web.MetricsEndpoint.Start(loopback).Serve(() => Rendered(Text()), () => Rendered(OpenMetricsText.From(Text(), null)));
        const string asks = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
        using var http = new HttpClient();
        async Task<(string? Type, string Body)> Get(Tcpq.Serve.Web.MetricsEndpoint endpoint, string accept)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, endpoint.Url);
            request.Headers.TryAddWithoutValidation("Accept", accept);
            using var response = await http.SendAsync(request);
            return (response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
        }
        Assert.Equal("text/plain", (await Get(plain, asks)).Type);
        Assert.Equal("text/plain", (await Get(spans, "*/*")).Type);
        var om = await Get(spans, asks);
        Assert.Equal("application/openmetrics-text", om.Type);
        Assert.EndsWith("# EOF\n", om.Body);
    }

    [Theory]
    [InlineData("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", true)] // Prometheus 2.42
    [InlineData("text/plain;version=0.0.4", false)]
    [InlineData("*/*", false)]
    [InlineData("application/openmetrics-text; q=0", false)]
    [InlineData(null, false)]
    public void Only_a_scraper_that_asks_gets_openmetrics(string? accept, bool openMetrics) =>
        Assert.Equal(openMetrics, OpenMetricsText.Accepted(accept));
}
