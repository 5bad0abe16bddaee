using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Tcpq.Aggregates;
using Tcpq.Events;
using Tcpq.Serve;
using Tcpq.Serve.Web;

namespace Tcpq.Tests;

/// <summary>The scrape endpoint on Kestrel, over real loopback sockets: what it answers, gzip,
/// keep-alive, the probes' paths, one rendering shared by every scraper of a reading.</summary>
public class MetricsEndpointTests
{
    private static AggregateSnapshot OneListener()
    {
        var e = TestEvents.Syn();
        var a = new ListenerAggregate(new ListenerKey(e.NetNs, e.DestAddress, e.DestPort)) { Accepts = 5 };
        a.QueueWait.RecordNs(3_000_000);
        return new AggregateSnapshot(DateTime.UtcNow, 1, [a], null, new AggregateCost(0, 0, null, 0));
    }

    private static MetricsEndpoint Serving(AggregateSnapshot snapshot)
    {
        var endpoint = MetricsEndpoint.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var rendered = PrometheusExposition.Render(snapshot, DropReasons.Empty, "ebpf");
        return endpoint.Serve(() => rendered);
    }

    /// <summary>Sends raw requests on one connection and reads until the server closes it or
    /// <paramref name="responses"/> complete answers came.</summary>
    private static async Task<string> Exchange(IPEndPoint at, string requests, int responses = 1)
    {
        using var c = new Socket(at.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await c.ConnectAsync(at);
        await c.SendAsync(Encoding.ASCII.GetBytes(requests), SocketFlags.None);
        var buffer = new MemoryStream();
        var chunk = new byte[65536];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (Complete(Encoding.Latin1.GetString(buffer.ToArray())) < responses)
        {
            int n = await c.ReceiveAsync(chunk, SocketFlags.None, timeout.Token);
            if (n == 0) break;
            buffer.Write(chunk, 0, n);
        }
        return Encoding.Latin1.GetString(buffer.ToArray());
    }

    /// <summary>How many complete responses (head and Content-Length body) the text holds.</summary>
    private static int Complete(string text)
    {
        int count = 0, at = 0;
        while (true)
        {
            int end = text.IndexOf("\r\n\r\n", at, StringComparison.Ordinal);
            if (end < 0) return count;
            var head = text[at..end];
            var m = System.Text.RegularExpressions.Regex.Match(head, "(?i)content-length: (\\d+)");
            int length = m.Success ? int.Parse(m.Groups[1].Value) : 0;
            if (text.Length < end + 4 + length) return count;
            at = end + 4 + length;
            count++;
        }
    }

    [Fact]
    public async Task It_serves_the_metrics_and_nothing_else()
    {
        using var server = Serving(OneListener());
        var ok = await Exchange(server.Bound, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", ok);
        Assert.Contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n", ok);
        Assert.DoesNotContain("Server:", ok); // no banner
        Assert.Contains("\ntcpq_accepts_total{server_address=\"10.0.0.5\",server_port=\"2000\"", ok);
        int length = int.Parse(System.Text.RegularExpressions.Regex.Match(ok, "Content-Length: (\\d+)").Groups[1].Value);
        Assert.Equal(length, ok.Length - (ok.IndexOf("\r\n\r\n") + 4)); // Latin-1: a character per byte

        Assert.StartsWith("HTTP/1.1 404", await Exchange(server.Bound, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n"));
        var post = await Exchange(server.Bound, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 405", post);
        Assert.Contains("Allow: GET, HEAD", post);
        Assert.StartsWith("HTTP/1.1 400", await Exchange(server.Bound, "nonsense\r\n\r\n"));
        Assert.Equal(1, server.Scrapes);
    }

    [Fact]
    public async Task One_connection_carries_several_scrapes()
    {
        using var server = Serving(OneListener());
        const string Scrape = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
        var both = await Exchange(server.Bound, Scrape + Scrape, responses: 2);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(both, "HTTP/1.1 200 OK").Count);
        Assert.Equal(2, server.Scrapes);
    }

    [Fact]
    public async Task A_scraper_that_asks_for_gzip_gets_the_same_text_gzipped()
    {
        var snapshot = OneListener();
        using var server = Serving(snapshot);
        using var http = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None });
        var url = $"http://{MetricsEndpoint.Text(server.Bound)}/metrics";

        using var gzipped = new HttpRequestMessage(HttpMethod.Get, url) { Headers = { { "Accept-Encoding", "gzip" } } };
        using var answer = await http.SendAsync(gzipped);
        Assert.Equal("gzip", Assert.Single(answer.Content.Headers.ContentEncoding));
        Assert.Contains("Accept-Encoding", answer.Headers.Vary);
        using var unzip = new GZipStream(await answer.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
        var text = await new StreamReader(unzip).ReadToEndAsync();
        Assert.Equal(PrometheusExposition.Write(snapshot, DropReasons.Empty, "ebpf"), text);

        using var refused = new HttpRequestMessage(HttpMethod.Get, url) { Headers = { { "Accept-Encoding", "gzip;q=0, identity" } } };
        using var plain = await http.SendAsync(refused);
        Assert.Empty(plain.Content.Headers.ContentEncoding);
        Assert.Equal(text, await plain.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("gzip", true)]
    [InlineData("deflate, gzip;q=0.5", true)]
    [InlineData("GZIP", true)]
    [InlineData("*", true)]
    [InlineData("gzip;q=0", false)]
    [InlineData("identity", false)]
    [InlineData("", false)]
    [InlineData("br", false)]
    public void Accept_encoding(string header, bool gzip) => Assert.Equal(gzip, MetricsEndpoint.AcceptsGzip(header));

    [Fact]
    public async Task Before_the_source_is_loaded_metrics_and_readiness_answer_503_and_health_200()
    {
        using var server = MetricsEndpoint.Start(new IPEndPoint(IPAddress.Loopback, 0));
        using var http = new HttpClient();
        string at = $"http://{MetricsEndpoint.Text(server.Bound)}";
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync(at + "/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync(at + "/-/ready")).StatusCode);
        var healthy = await http.GetAsync(at + "/-/healthy");
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
        Assert.Equal("OK\n", await healthy.Content.ReadAsStringAsync());
        var rendered = PrometheusExposition.Render(OneListener(), DropReasons.Empty, "ebpf");
        server.Serve(() => rendered);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(at + "/-/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(at + "/metrics")).StatusCode);
    }

    [Fact]
    public void Scrapers_of_one_reading_share_one_rendering()
    {
        var snapshot = OneListener();
        int renders = 0;
        var cache = new ExpositionCache(() => snapshot, s => { Interlocked.Increment(ref renders); return PrometheusExposition.Render(s, DropReasons.Empty, "ebpf"); });
        var all = Enumerable.Range(0, 16).AsParallel().Select(_ => cache.Read()).ToList();
        Assert.Equal(1, renders);
        Assert.All(all, r => Assert.Same(all[0], r));
        snapshot = OneListener(); // a new reading
        Assert.NotSame(all[0], cache.Read());
        Assert.Equal(2, renders);
    }

    [Fact]
    public void The_rendered_bytes_are_the_text_in_utf8()
    {
        var b = new StringBuilder();
        for (int i = 0; i < 5000; i++) b.Append("µs é → ").Append(i).Append('\n'); // many chunks, multi-byte characters at their edges
        Assert.Equal(Encoding.UTF8.GetBytes(b.ToString()), RenderedExposition.Utf8(b));
    }

    [Fact]
    public void A_port_in_use_is_one_line_naming_the_address()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var at = (IPEndPoint)taken.LocalEndPoint!;
        var e = Assert.Throws<TcpqException>(() => MetricsEndpoint.Start(at));
        Assert.StartsWith($"cannot listen on 127.0.0.1:{at.Port}: address already in use", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void A_second_server_on_the_same_port_is_refused_not_shared()
    {
        using var first = MetricsEndpoint.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var e = Assert.Throws<TcpqException>(() => MetricsEndpoint.Start(first.Bound));
        Assert.Contains("address already in use", e.Message);
    }

    private static async Task<bool> Closed(Socket s, CancellationToken cancel)
    {
        try { return await s.ReceiveAsync(new byte[16], SocketFlags.None, cancel) == 0; }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset) { return true; }
    }

    [Fact]
    public async Task One_client_address_cannot_take_every_connection()
    {
        using var server = Serving(OneListener());
        var held = new List<Socket>();
        try
        {
            // from 127.0.0.1: its share, then one more, of which one is closed at once. Which one is
            // the server's order, not the client's: Kestrel hands accepted connections to the
            // thread pool, so the last one connected may be counted before an earlier one
            int resetAtConnect = 0;
            for (int i = 0; i < EndpointLimits.ConnectionsPerClient + 1; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                held.Add(s);
                s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                try { await s.ConnectAsync(server.Bound); }
                // the one past the share may be reset before connect() reports (the server's RST
                // came first on a busy machine): that is the same answer, seen earlier
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset) { resetAtConnect++; }
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            if (resetAtConnect == 0)
            {
                using var watch = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
                var closing = held.Select(h => Closed(h, watch.Token)).ToList();
                var first = await Task.WhenAny(closing);
                Assert.True(await first, "the connection past the share should be closed");
                Assert.Equal(1, closing.Count(c => c.IsCompleted)); // one past the share, the rest held
                watch.Cancel();
            }
            Assert.True(resetAtConnect <= 1, $"{resetAtConnect} connections reset: one past the share");

            // another address (127.0.0.2 is loopback too) still scrapes
            using var other = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            other.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
            await other.ConnectAsync(server.Bound);
            await other.SendAsync("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), SocketFlags.None);
            var buffer = new byte[64];
            int n = await other.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(buffer, 0, n));
        }
        finally
        {
            foreach (var s in held) s.Dispose();
        }
    }
}
