using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;

namespace Tcpq.Spans;

/// <summary>Where the spans go and how: the collector's URL (OTLP/HTTP: the traces path itself;
/// gRPC: the server's address), the protocol, the headers a backend asks for (its token: never
/// printed), gzip, and how long one request may take.</summary>
public sealed record OtlpTraceEndpoint(Uri Url, bool Grpc, IReadOnlyList<KeyValuePair<string, string>> Headers, bool Gzip, TimeSpan Timeout)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Sends one encoded <c>ExportTraceServiceRequest</c> at a time with HttpClient: OTLP/HTTP (a
/// protobuf POST to /v1/traces) or OTLP/gRPC (HTTP/2, with prior knowledge over http://, the
/// request as one length-prefixed gRPC message, the answer's grpc-status read from its trailers).
/// What the OTLP specification calls retryable (HTTP 429, 502, 503, 504; gRPC UNAVAILABLE and the
/// other transient codes) is tried again after an exponential, jittered backoff, or after the
/// collector's Retry-After, while the caller's deadline allows. A failure keeps its reason in a
/// line a person reads (<see cref="LastFailure"/>), never the URL or a header.
/// </summary>
internal sealed class OtlpTraceSender : IDisposable
{
    private const string GrpcPath = "opentelemetry.proto.collector.trace.v1.TraceService/Export";
    private const int MaxAttempts = 5;
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1), MaxBackoff = TimeSpan.FromSeconds(5);

    private readonly OtlpTraceEndpoint _endpoint;
    private readonly Uri _url;
    private readonly HttpClient _http;
    private readonly MemoryStream _gzipped = new();
    private readonly Random _jitter = new();
    private readonly ProductInfoHeaderValue _userAgent;

    public OtlpTraceSender(OtlpTraceEndpoint endpoint, string version)
    {
        _endpoint = endpoint;
        _url = endpoint.Grpc ? new Uri(endpoint.Url.AbsoluteUri.TrimEnd('/') + "/" + GrpcPath) : endpoint.Url;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = endpoint.Timeout,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            AutomaticDecompression = DecompressionMethods.None,
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _userAgent = new ProductInfoHeaderValue("tcpq", version);
    }

    /// <summary>What went wrong with the last request that failed, in a line; null if none did.</summary>
    public string? LastFailure { get; private set; }
    /// <summary>Requests tried again (a retryable answer or none).</summary>
    public long Retries { get; private set; }

    /// <summary>Sends <paramref name="request"/> (with at least 5 bytes free before it in its
    /// array, for the gRPC prefix), retrying while <paramref name="deadline"/> allows: true when the
    /// collector took it.</summary>
    public bool Send(ArraySegment<byte> request, DateTime deadline, CancellationToken stop = default)
    {
        var body = Body(request);
        for (int attempt = 1; ; attempt++)
        {
            var (ok, retryable, retryAfter) = Attempt(body, deadline, stop);
            if (ok) return true;
            if (!retryable || attempt >= MaxAttempts || stop.IsCancellationRequested) return false;
            var wait = retryAfter ?? Backoff(attempt);
            if (DateTime.UtcNow + wait >= deadline) return false;
            Retries++;
            if (stop.WaitHandle.WaitOne(wait)) return false;
        }
    }

    /// <summary>The bytes on the wire: gzipped when asked, with gRPC's prefix (compressed flag, length).</summary>
    private ArraySegment<byte> Body(ArraySegment<byte> request)
    {
        if (_endpoint.Gzip)
        {
            _gzipped.SetLength(0);
            _gzipped.Write(stackalloc byte[OtlpTraceEncoder.FramePrefix]);
            using (var gzip = new GZipStream(_gzipped, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(request);
            request = new ArraySegment<byte>(_gzipped.GetBuffer(), OtlpTraceEncoder.FramePrefix, (int)_gzipped.Length - OtlpTraceEncoder.FramePrefix);
        }
        if (!_endpoint.Grpc) return request;
        var framed = new ArraySegment<byte>(request.Array!, request.Offset - OtlpTraceEncoder.FramePrefix, request.Count + OtlpTraceEncoder.FramePrefix);
        framed[0] = _endpoint.Gzip ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1, 4), (uint)request.Count);
        return framed;
    }

    private (bool Ok, bool Retryable, TimeSpan? RetryAfter) Attempt(ArraySegment<byte> body, DateTime deadline, CancellationToken stop)
    {
        var left = deadline - DateTime.UtcNow;
        if (left <= TimeSpan.Zero)
        {
            LastFailure = "no answer in time";
            return (false, false, null);
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(left < _endpoint.Timeout ? left : _endpoint.Timeout);
        using var message = Message(body);
        try
        {
            // HTTP/2 has no synchronous send in HttpClient: the spans' thread waits for the answer
            using var response = _http.SendAsync(message, HttpCompletionOption.ResponseContentRead, timeout.Token).GetAwaiter().GetResult();
            return _endpoint.Grpc ? GrpcAnswer(response) : HttpAnswer(response);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            LastFailure = Reason(e);
            // a collector that is not there is not retried (said, and the next batch tries again);
            // one that took too long to answer, or broke the connection, may be busy
            return (false, e is not HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError }
                && !stop.IsCancellationRequested, null);
        }
    }

    private HttpRequestMessage Message(ArraySegment<byte> body)
    {
        var content = new ByteArrayContent(body.Array!, body.Offset, body.Count);
        var message = new HttpRequestMessage(HttpMethod.Post, _url) { Content = content };
        message.Headers.UserAgent.Add(_userAgent);
        if (_endpoint.Grpc)
        {
            message.Version = HttpVersion.Version20;
            message.VersionPolicy = HttpVersionPolicy.RequestVersionExact; // h2c with prior knowledge, or h2 by ALPN
            content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
            message.Headers.TryAddWithoutValidation("te", "trailers");
            if (_endpoint.Gzip) message.Headers.TryAddWithoutValidation("grpc-encoding", "gzip");
        }
        else
        {
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
            if (_endpoint.Gzip) content.Headers.ContentEncoding.Add("gzip");
        }
        foreach (var (name, value) in _endpoint.Headers) message.Headers.TryAddWithoutValidation(name, value);
        return message;
    }

    private (bool, bool, TimeSpan?) HttpAnswer(HttpResponseMessage response)
    {
        if (response.IsSuccessStatusCode) return (true, false, null);
        LastFailure = $"the collector answered {(int)response.StatusCode} {response.ReasonPhrase}";
        return (false, (int)response.StatusCode is 429 or 502 or 503 or 504, RetryAfter(response));
    }

    private (bool, bool, TimeSpan?) GrpcAnswer(HttpResponseMessage response)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            // not gRPC's answer at all (a proxy, an API key refused): the HTTP status, mapped as gRPC maps it
            LastFailure = $"the collector answered {(int)response.StatusCode} {response.ReasonPhrase}";
            return (false, (int)response.StatusCode is 429 or 502 or 503 or 504, RetryAfter(response));
        }
        // the status is in the trailers, or in the headers of a trailers-only answer
        string? status = Header(response.TrailingHeaders, "grpc-status") ?? Header(response.Headers, "grpc-status");
        if (status == "0") return (true, false, null);
        if (status is null || !int.TryParse(status, out int code))
        {
            LastFailure = "the collector's answer had no gRPC status";
            return (false, false, null);
        }
        string? detail = Header(response.TrailingHeaders, "grpc-message") ?? Header(response.Headers, "grpc-message");
        LastFailure = $"the collector answered gRPC status {code} {GrpcCodeName(code)}" + (detail is null ? "" : ": " + Printable(Uri.UnescapeDataString(detail)));
        // the OTLP specification's retryable codes: CANCELLED, DEADLINE_EXCEEDED, ABORTED,
        // OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS (RESOURCE_EXHAUSTED only with the server's RetryInfo, not read here)
        return (false, code is 1 or 4 or 10 or 11 or 14 or 15, null);
    }

    private static string? Header(HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var r = response.Headers.RetryAfter;
        if (r?.Delta is { } delta) return delta;
        if (r?.Date is { } date) return date - DateTimeOffset.UtcNow is var d && d > TimeSpan.Zero ? d : TimeSpan.Zero;
        return null;
    }

    /// <summary>1 s, 1.5 s, 2.25 s… at most 5 s, each between half and all of it (jitter).</summary>
    private TimeSpan Backoff(int attempt)
    {
        double s = Math.Min(MaxBackoff.TotalSeconds, FirstBackoff.TotalSeconds * Math.Pow(1.5, attempt - 1));
        return TimeSpan.FromSeconds(s * (0.5 + 0.5 * _jitter.NextDouble()));
    }

    private static string Reason(Exception e) => e switch
    {
        HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } h => "could not connect" + (h.InnerException is { } inner ? $" ({Printable(inner.Message)})" : ""),
        HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError } => "the host name did not resolve",
        HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError } => "TLS failed",
        HttpRequestException { HttpRequestError: HttpRequestError.VersionNegotiationError } => "the collector does not speak HTTP/2 (OTLP/gRPC)",
        OperationCanceledException => "no answer in time",
        _ => "the request failed",
    };

    private static string GrpcCodeName(int code) => code switch
    {
        1 => "CANCELLED", 2 => "UNKNOWN", 3 => "INVALID_ARGUMENT", 4 => "DEADLINE_EXCEEDED", 5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS", 7 => "PERMISSION_DENIED", 8 => "RESOURCE_EXHAUSTED", 9 => "FAILED_PRECONDITION",
        10 => "ABORTED", 11 => "OUT_OF_RANGE", 12 => "UNIMPLEMENTED", 13 => "INTERNAL", 14 => "UNAVAILABLE",
        15 => "DATA_LOSS", 16 => "UNAUTHENTICATED", _ => "",
    };

    /// <summary>Text from the collector, safe for a terminal: no control characters, at most 200 characters.</summary>
    private static string Printable(string text)
    {
        var chars = text.Length > 200 ? text[..200] + "…" : text;
        return string.Create(chars.Length, chars, (to, from) =>
        {
            for (int i = 0; i < from.Length; i++) to[i] = char.IsControl(from[i]) ? '?' : from[i];
        });
    }

    public void Dispose()
    {
        _http.Dispose();
        _gzipped.Dispose();
    }
}
