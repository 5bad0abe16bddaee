using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Exporter;

namespace Tcpq.Spans;

/// <summary>The OTLP trace exporter, counting what each export took and what failed: OpenTelemetry
/// .NET keeps its batch processor's and exporter's counts to itself. Runs on the batch processor's
/// thread.</summary>
internal sealed class CountingOtlpTraceExporter : OtlpTraceExporter
{
    private readonly FailureReasonHandler _reasons;
    private readonly Action<long> _done;
    private long _exported, _failed;

    public long Exported => Interlocked.Read(ref _exported);
    public long Failed => Interlocked.Read(ref _failed);
    public string? LastFailure { get; private set; }

    /// <param name="done">Told how many spans left the queue after each export, sent or not.</param>
    public static CountingOtlpTraceExporter Create(OtlpExporterOptions options, Action<long> done)
    {
        // the exporter says only "failure": a handler under its HTTP client keeps the reason (a
        // refused connection, a status) for the one line tcpq prints
        var reasons = new FailureReasonHandler { InnerHandler = new SocketsHttpHandler() };
        int timeout = options.TimeoutMilliseconds;
        options.HttpClientFactory = () => new HttpClient(reasons, disposeHandler: false) { Timeout = TimeSpan.FromMilliseconds(timeout + 1000) };
        return new CountingOtlpTraceExporter(options, reasons, done);
    }

    private CountingOtlpTraceExporter(OtlpExporterOptions options, FailureReasonHandler reasons, Action<long> done) : base(options)
    {
        _reasons = reasons;
        _done = done;
    }

    public override ExportResult Export(in Batch<Activity> batch)
    {
        long n = batch.Count;
        _reasons.Last = null;
        var result = base.Export(batch);
        if (result == ExportResult.Success) Interlocked.Add(ref _exported, n);
        else
        {
            Interlocked.Add(ref _failed, n);
            LastFailure = _reasons.Last ?? "the collector did not take them";
        }
        _done(n);
        return result;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _reasons.Dispose();
    }

    /// <summary>What went wrong with the last request, in words a person reads (never its URL,
    /// which may carry a token).</summary>
    private sealed class FailureReasonHandler : DelegatingHandler
    {
        public volatile string? Last;

        // OTLP/HTTP sends synchronously, OTLP/gRPC asynchronously: both are watched
        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancel)
        {
            try { return Seen(base.Send(request, cancel)); }
            catch (Exception e) when (Failed(e)) { throw; }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancel)
        {
            try { return Seen(await base.SendAsync(request, cancel).ConfigureAwait(false)); }
            catch (Exception e) when (Failed(e)) { throw; }
        }

        private HttpResponseMessage Seen(HttpResponseMessage response)
        {
            if (!response.IsSuccessStatusCode) Last = $"the collector answered {(int)response.StatusCode} {response.ReasonPhrase}";
            return response;
        }

        /// <summary>Keeps the reason; false, so the exception goes on as it was.</summary>
        private bool Failed(Exception e)
        {
            Last = e switch
            {
                HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } h => "could not connect" + (h.InnerException is { } inner ? $" ({inner.Message})" : ""),
                HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError } => "the host name did not resolve",
                HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError } => "TLS failed",
                HttpRequestException => "the request failed",
                OperationCanceledException => "no answer in time",
                _ => Last,
            };
            return false;
        }
    }
}
