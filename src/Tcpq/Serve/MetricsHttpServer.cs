using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tcpq.Serve;

/// <summary>
/// The scrape endpoint: a small HTTP/1.1 server on one socket bound exactly to --listen, serving
/// <c>GET /metrics</c> (and HEAD), a pointer at <c>/</c>, 404 elsewhere, one response per
/// connection. Not HttpListener: its prefixes match the request's Host header against the
/// configured host (so <c>curl localhost:9477</c> misses a 127.0.0.1 prefix, and a pod IP misses a
/// wildcard one unless written <c>+</c>), and a scrape endpoint needs none of what it adds.
/// </summary>
public sealed class MetricsHttpServer : IDisposable
{
    private const int MaxRequestHead = 8192;
    private const int MaxConcurrent = 8;
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(5);

    private const int SolSocket = 1, SoReuseAddr = 2; // <sys/socket.h>

    private readonly Socket _socket;
    private Func<string> _metrics = () => "";
    private Func<string, string>? _openMetrics;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _slots = new(MaxConcurrent);
    private Task? _accepting;

    public IPEndPoint Bound { get; }
    public long Scrapes => Interlocked.Read(ref _scrapes);
    private long _scrapes;

    private MetricsHttpServer(Socket socket)
    {
        _socket = socket;
        Bound = (IPEndPoint)socket.LocalEndPoint!;
    }

    /// <summary>Binds and listens (port 0: a free port, see <see cref="Bound"/>), so that a port in
    /// use is known before anything is loaded; connections wait in the backlog until <see cref="Serve"/>.</summary>
    public static MetricsHttpServer Bind(IPEndPoint at)
    {
        var socket = new Socket(at.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (at.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = at.Address.Equals(IPAddress.IPv6Any);
            // SO_REUSEADDR alone (a restart need not wait out TIME_WAIT): .NET's ReuseAddress also
            // sets SO_REUSEPORT, with which a second tcpq serve would share the port silently.
            socket.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
            socket.Bind(at);
            socket.Listen(64);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new TcpqException(ExitCode.Failure, $"cannot listen on {Text(at)}: {e.Message.ToLowerInvariant()}");
        }
        return new MetricsHttpServer(socket);
    }

    /// <summary>Starts answering, with <paramref name="metrics"/> as the body of /metrics; with
    /// <paramref name="openMetrics"/>, a scraper that asks for OpenMetrics gets it made from that body.</summary>
    public MetricsHttpServer Serve(Func<string> metrics, Func<string, string>? openMetrics = null)
    {
        _metrics = metrics;
        _openMetrics = openMetrics;
        _accepting ??= Task.Run(AcceptLoop);
        return this;
    }

    public static MetricsHttpServer Start(IPEndPoint at, Func<string> metrics) => Bind(at).Serve(metrics);

    /// <summary>host:port, IPv6 in brackets.</summary>
    public static string Text(IPEndPoint e) =>
        e.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{e.Address}]:{e.Port}" : $"{e.Address}:{e.Port}";

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _socket.AcceptAsync(_stop.Token); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            await _slots.WaitAsync();
            _ = Task.Run(async () =>
            {
                try { await Serve(client); }
                catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException) { }
                finally
                {
                    client.Dispose();
                    _slots.Release();
                }
            });
        }
    }

    private async Task Serve(Socket client)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(ReadTimeout);
        var head = await ReadHead(client, timeout.Token);
        if (head is null) return;
        var (status, contentType, body, headOnly) = Respond(head);
        var bytes = Encoding.UTF8.GetBytes(body);
        var header = $"HTTP/1.1 {status}\r\nContent-Type: {contentType}\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n";
        await client.SendAsync(Encoding.ASCII.GetBytes(header), SocketFlags.None, timeout.Token);
        if (!headOnly) await client.SendAsync(bytes, SocketFlags.None, timeout.Token);
        client.Shutdown(SocketShutdown.Send);
    }

    /// <summary>The request line and headers, or null if the client sent no complete head in time.</summary>
    private static async Task<string?> ReadHead(Socket client, CancellationToken token)
    {
        var buffer = new byte[MaxRequestHead];
        int n = 0;
        while (n < buffer.Length)
        {
            int got = await client.ReceiveAsync(buffer.AsMemory(n), SocketFlags.None, token);
            if (got == 0) return null;
            n += got;
            var text = Encoding.ASCII.GetString(buffer, 0, n);
            if (text.Contains("\r\n\r\n", StringComparison.Ordinal) || text.Contains("\n\n", StringComparison.Ordinal)) return text;
        }
        return Encoding.ASCII.GetString(buffer, 0, n); // too long: answered from its request line
    }

    /// <summary>The answer to a request head (no body is read: a scrape has none).</summary>
    internal (string Status, string ContentType, string Body, bool HeadOnly) Respond(string head)
    {
        var requestLine = head.Split('\n', 2)[0].TrimEnd('\r').Split(' ');
        if (requestLine.Length < 3 || !requestLine[2].StartsWith("HTTP/", StringComparison.Ordinal))
            return ("400 Bad Request", "text/plain; charset=utf-8", "bad request\n", false);
        string method = requestLine[0], path = requestLine[1].Split('?', 2)[0];
        bool headOnly = method == "HEAD";
        if (method != "GET" && !headOnly)
            return ("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET and HEAD\n", false);
        if (path == "/metrics")
        {
            Interlocked.Increment(ref _scrapes);
            if (_openMetrics is not null && OpenMetricsText.Accepted(Header(head, "Accept")))
                return ("200 OK", OpenMetricsText.ContentType, _openMetrics(_metrics()), headOnly);
            return ("200 OK", PrometheusExposition.ContentType, _metrics(), headOnly);
        }
        if (path == "/")
            return ("200 OK", "text/plain; charset=utf-8", "tcpq serve: Prometheus metrics at /metrics\n", headOnly);
        return ("404 Not Found", "text/plain; charset=utf-8", "not found: metrics are at /metrics\n", headOnly);
    }

    /// <summary>A header's value (the first of that name), or null.</summary>
    private static string? Header(string head, string name)
    {
        foreach (var line in head.Split('\n').Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line.AsSpan(0, colon).Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
                return line[(colon + 1)..].Trim();
        }
        return null;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        try { _accepting?.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}
