using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Tcpq.Serve.Web;

/// <summary>
/// The scrape endpoint, on Kestrel: <c>GET /metrics</c> (and HEAD), gzipped when the scraper asks;
/// <c>/-/healthy</c> and <c>/-/ready</c> for probes (no password, nothing revealed); with a
/// <c>--web-config</c>, TLS and basic auth as Prometheus's exporter-toolkit does them. Bound to
/// exactly one address. Limits (<see cref="EndpointLimits"/>) keep idle, slow or many clients from
/// holding it: a connection that sends nothing is closed, one client address holds a bounded share
/// of the connections, and a reader slower than a floor is cut off.
/// </summary>
public sealed class MetricsEndpoint : IDisposable
{
    private readonly WebApplication _app;
    private readonly BasicAuthCheck? _auth;
    private Func<RenderedExposition>? _metrics;
    private long _scrapes;

    public IPEndPoint Bound { get; }
    public bool Tls { get; }
    public long Scrapes => Interlocked.Read(ref _scrapes);
    /// <summary>Basic auth's bcrypt runs and refusals, for tcpq's own metrics (null without basic auth).</summary>
    public BasicAuthCheck? Auth => _auth;

    private MetricsEndpoint(WebApplication app, IPEndPoint bound, bool tls, BasicAuthCheck? auth)
    {
        _app = app;
        Bound = bound;
        Tls = tls;
        _auth = auth;
    }

    /// <summary>Binds and starts answering (port 0: a free port, see <see cref="Bound"/>), so that
    /// a port in use is known before anything is loaded; until <see cref="Serve"/>, /metrics and
    /// /-/ready answer 503.</summary>
    public static MetricsEndpoint Start(IPEndPoint at, WebConfig? config = null)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        ListenOptions? listening = null;
        var limits = new ConnectionLimits(EndpointLimits.Connections, EndpointLimits.ConnectionsPerClient);
        // no logging providers: Kestrel's own log (a client that went away, a bad request) stays
        // silent; what a user needs to know, tcpq says itself
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            EndpointLimits.Apply(kestrel);
            kestrel.Listen(at, listen =>
            {
                listening = listen;
                listen.Protocols = HttpProtocols.Http1;
                listen.Use(limits.Middleware());
                if (config?.Tls is { } tls) listen.UseHttps(tls.HttpsOptions());
            });
        });
        var app = builder.Build();
        var auth = config?.Users is { Count: > 0 } users ? new BasicAuthCheck(users) : null;
        MetricsEndpoint? endpoint = null;
        app.Run(context => limits.Answering(context, () => endpoint!.Answer(context)));
        try
        {
            app.StartAsync().GetAwaiter().GetResult();
        }
        catch (IOException e)
        {
            (app as IDisposable).Dispose();
            Exception? cause = e;
            while (cause is not null and not SocketException) cause = cause.InnerException; // Kestrel wraps the socket's error twice
            var reason = (cause ?? e).Message.ReplaceLineEndings(" ").TrimEnd('.');
            throw new TcpqException(ExitCode.Failure, $"cannot listen on {Text(at)}: {reason.ToLowerInvariant()}");
        }
        // Kestrel writes the port it bound (for port 0) back into the listen options
        endpoint = new MetricsEndpoint(app, listening!.IPEndPoint ?? at, config?.Tls is not null, auth);
        return endpoint;
    }

    /// <summary>Starts serving <paramref name="metrics"/> as the body of /metrics; and
    /// <paramref name="openMetrics"/>, when given, to a scraper whose Accept asks for OpenMetrics
    /// (exemplars travel only there).</summary>
    public MetricsEndpoint Serve(Func<RenderedExposition> metrics, Func<RenderedExposition>? openMetrics = null)
    {
        Volatile.Write(ref _openMetrics, openMetrics);
        Volatile.Write(ref _metrics, metrics);
        return this;
    }

    private Func<RenderedExposition>? _openMetrics;

    /// <summary>host:port, IPv6 in brackets.</summary>
    public static string Text(IPEndPoint e) =>
        e.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{e.Address}]:{e.Port}" : $"{e.Address}:{e.Port}";

    public string Url => $"{(Tls ? "https" : "http")}://{Text(Bound)}/metrics";

    private async Task Answer(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        bool head = HttpMethods.IsHead(request.Method);
        if (!head && !HttpMethods.IsGet(request.Method))
        {
            response.Headers.Allow = "GET, HEAD";
            await Plain(response, StatusCodes.Status405MethodNotAllowed, "only GET and HEAD\n", head);
            return;
        }
        string path = request.Path.Value ?? "";
        var metrics = Volatile.Read(ref _metrics);
        // probes: no password, and nothing in the answer but up or not
        if (path == "/-/healthy") { await Plain(response, StatusCodes.Status200OK, "OK\n", head); return; }
        if (path == "/-/ready")
        {
            await Plain(response, metrics is null ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK, metrics is null ? "starting\n" : "OK\n", head);
            return;
        }
        if (_auth is not null && !await Authorized(context)) return;
        switch (path)
        {
            case "/metrics" when metrics is null:
                await Plain(response, StatusCodes.Status503ServiceUnavailable, "starting\n", head);
                return;
            case "/metrics":
                Interlocked.Increment(ref _scrapes);
                if (Volatile.Read(ref _openMetrics) is { } open && OpenMetricsText.Accepted(request.Headers.Accept.ToString()))
                    await Metrics(context, open(), head, OpenMetricsText.ContentType);
                else
                    await Metrics(context, metrics(), head, PrometheusExposition.ContentType);
                return;
            case "/":
                await Plain(response, StatusCodes.Status200OK, "tcpq serve: Prometheus metrics at /metrics\n", head);
                return;
            default:
                await Plain(response, StatusCodes.Status404NotFound, "not found: metrics are at /metrics\n", head);
                return;
        }
    }

    private async Task<bool> Authorized(HttpContext context)
    {
        var result = BasicAuthCheck.Credentials(context.Request.Headers.Authorization.ToString()) is var (user, password)
            ? await _auth!.CheckAsync(user, password, context.RequestAborted)
            : BasicAuthCheck.Result.Refused;
        if (result == BasicAuthCheck.Result.Allowed) return true;
        if (result == BasicAuthCheck.Result.Busy)
        {
            // more password checks waiting than the bound: no hash for this one (see BasicAuthCheck)
            context.Response.Headers.RetryAfter = "1";
            await Plain(context.Response, StatusCodes.Status429TooManyRequests, "too many password checks at once\n", false);
            return false;
        }
        context.Response.Headers.WWWAuthenticate = "Basic";
        await Plain(context.Response, StatusCodes.Status401Unauthorized, "Unauthorized\n", false);
        return false;
    }

    private static async Task Metrics(HttpContext context, RenderedExposition exposition, bool head, string contentType)
    {
        var response = context.Response;
        bool gzip = AcceptsGzip(context.Request.Headers.AcceptEncoding.ToString());
        var body = gzip ? exposition.Gzip : exposition.Text;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.Headers.Vary = "Accept, Accept-Encoding";
        if (gzip) response.Headers.ContentEncoding = "gzip";
        response.ContentLength = body.Length;
        if (head) return;
        // in slices, each awaited: Kestrel copies what it is given into its own buffers before
        // the reader's pace holds it back, so one 9 MB write per scraper would be 9 MB of copies
        // per scraper (16 at once: 140 MB); a slice at a time it is one slice each
        for (int at = 0; at < body.Length; at += WriteSlice)
            await response.Body.WriteAsync(body.Slice(at, Math.Min(WriteSlice, body.Length - at)), context.RequestAborted);
    }

    private const int WriteSlice = 32 * 1024;

    /// <summary>Accept-Encoding names gzip (or *) with a q above 0.</summary>
    public static bool AcceptsGzip(string acceptEncoding)
    {
        foreach (var part in acceptEncoding.Split(','))
        {
            var fields = part.Split(';');
            var coding = fields[0].Trim();
            if (!coding.Equals("gzip", StringComparison.OrdinalIgnoreCase) && coding != "*") continue;
            var q = fields.Skip(1).Select(f => f.Trim()).FirstOrDefault(f => f.StartsWith("q=", StringComparison.OrdinalIgnoreCase));
            if (q is null || !double.TryParse(q[2..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v) || v > 0)
                return true;
        }
        return false;
    }

    private static Task Plain(HttpResponse response, int status, string text, bool head)
    {
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        response.ContentLength = System.Text.Encoding.UTF8.GetByteCount(text);
        return head ? Task.CompletedTask : response.WriteAsync(text);
    }

    public void Dispose()
    {
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try { _app.StopAsync(stopping.Token).GetAwaiter().GetResult(); }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException) { }
        _app.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
