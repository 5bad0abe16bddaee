using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Tcpq.Events;

namespace Tcpq.Spans;

/// <summary>
/// Sends each connection as a trace of its own over OTLP, with OpenTelemetry .NET: an
/// <see cref="ActivitySource"/> named "tcpq" (<see cref="ConnectionActivities"/>), its batch
/// processor and the OTLP trace exporter (trim- and AOT-clean). The batch processor's queue is the
/// bound: a connection whose spans would not fit is not made at all, and counted
/// (<see cref="ConnectionsDropped"/>), so a burst the collector cannot take costs no more than
/// counting it. What the collector refused is counted too, and said.
/// </summary>
public sealed class ConnectionSpanExporter : IConnectionSpanSink, IDisposable
{
    public const string SourceName = "tcpq";

    private readonly ActivitySource _source = new(SourceName, Version);
    private readonly TracerProvider _provider;
    private readonly CountingOtlpTraceExporter _exporter;
    private readonly WallClock _clock;
    private readonly SpanExportLimits _limits;
    private long _pending;

    /// <summary>Connections handed to the exporter, made into spans, and left out because the
    /// export queue was full.</summary>
    public long Connections { get; private set; }
    public long ConnectionsSent { get; private set; }
    public long ConnectionsDropped { get; private set; }
    /// <summary>Spans made; of them, those the collector took and those it did not (an error, no answer).</summary>
    public long Spans { get; private set; }
    public long SpansExported => _exporter.Exported;
    public long SpansFailed => _exporter.Failed;
    /// <summary>What went wrong with the last export that failed, in a line; null if none did.</summary>
    public string? LastFailure => _exporter.LastFailure;

    private static string Version => typeof(ConnectionSpanExporter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <param name="otlp">Endpoint, protocol and headers (made from the flags and the
    /// OTEL_EXPORTER_OTLP_* variables by the command).</param>
    public ConnectionSpanExporter(OtlpExporterOptions otlp, WallClock clock, SpanExportLimits? limits = null)
    {
        _clock = clock;
        _limits = limits ?? new SpanExportLimits();
        _exporter = CountingOtlpTraceExporter.Create(otlp, done: n => Interlocked.Add(ref _pending, -n));
        var processor = new BatchActivityExportProcessor(_exporter, _limits.QueueSpans,
            (int)_limits.Delay.TotalMilliseconds, otlp.TimeoutMilliseconds, _limits.BatchSpans);
        _provider = Sdk.CreateTracerProviderBuilder()
            .SetSampler(new AlwaysOnSampler())
            .ConfigureResource(r => r.AddService(SourceName, serviceVersion: Version).AddAttributes([new("host.name", Environment.MachineName)]))
            .AddSource(SourceName)
            .AddProcessor(processor)
            .Build()!;
    }

    /// <summary>Called once per finished connection, on one thread at a time (trace's: the
    /// <see cref="ConnectionSpanHandoff"/>'s).</summary>
    public void Write(ConnectionSpan span)
    {
        Connections++;
        // a connection makes at most 5 spans; the queue holds what is not yet sent
        if (Interlocked.Read(ref _pending) + SpanExportLimits.MaxSpansPerConnection > _limits.QueueSpans)
        {
            ConnectionsDropped++;
            return;
        }
        Interlocked.Add(ref _pending, SpanExportLimits.MaxSpansPerConnection);
        int made = ConnectionActivities.Emit(_source, span, _clock);
        Interlocked.Add(ref _pending, made - SpanExportLimits.MaxSpansPerConnection);
        if (made > 0) ConnectionsSent++;
        Spans += made;
    }

    /// <summary>Sends what is queued now; false when it did not all go within <paramref name="timeout"/>.
    /// The last batch may still be on its way when it returns (taken from the queue, not yet answered).</summary>
    public bool Flush(TimeSpan timeout) => _provider.ForceFlush(Milliseconds(timeout));

    /// <summary>Sends what is queued and waits for the answers (at most <paramref name="timeout"/>):
    /// the counts are final after it. Nothing is sent after.</summary>
    public bool Shutdown(TimeSpan timeout) => _provider.Shutdown(Milliseconds(timeout));

    private static int Milliseconds(TimeSpan t) => (int)Math.Clamp(t.TotalMilliseconds, 0, int.MaxValue);

    public void Dispose()
    {
        _provider.Dispose();
        _source.Dispose();
    }
}

/// <summary>How much the exporter holds and how often it sends.</summary>
public sealed record SpanExportLimits
{
    public const int MaxSpansPerConnection = 5;
    /// <summary>Spans queued for export at most (the batch processor's queue): 16384 is about 3300
    /// connections, some 10 MB of activities.</summary>
    public int QueueSpans { get; init; } = 16384;
    public int BatchSpans { get; init; } = 2048;
    /// <summary>How long a span may wait for its batch: a person watching a dashboard sees a
    /// connection about a second after it ended.</summary>
    public TimeSpan Delay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Finished connections waiting for the spans' thread (<see cref="ConnectionSpanHandoff"/>):
    /// 8192 is 160 ms of a 50,000-a-second load, some 2 MB of slots.</summary>
    public int HandoffSlots { get; init; } = 8192;
    /// <summary>How often the spans' thread looks for finished connections when fewer than half
    /// the slots are taken.</summary>
    public TimeSpan HandoffWake { get; init; } = TimeSpan.FromMilliseconds(50);
}
