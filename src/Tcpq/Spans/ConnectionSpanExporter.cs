using Tcpq.Events;

namespace Tcpq.Spans;

/// <summary>
/// Sends each connection as a trace of its own over OTLP: the one span export path, trace's and
/// serve's. The caller's thread (trace's ring buffer reader, serve's loop) only copies each
/// connection into a preallocated slot (<see cref="ConnectionSpanHandoff"/>); a thread of the
/// exporter's own, held to <see cref="SpanExportLimits.CpuShare"/> of one CPU, encodes the
/// spans straight into an OTLP request (<see cref="OtlpTraceEncoder"/>) and sends it
/// (<see cref="OtlpTraceSender"/>) when it is full or has waited <see cref="SpanExportLimits.Delay"/>.
/// So spans take a bounded share of the CPU and never the reader's: past that share, or with the
/// collector slow or gone, the slots fill and the connections that find none are left out and counted
/// (<see cref="ConnectionsDropped"/>), never a kernel event. What the collector refused is counted
/// too (<see cref="SpansFailed"/>) with its reason.
/// </summary>
/// <remarks>
/// Why not OpenTelemetry .NET's ActivitySource, batch processor and OTLP exporter, as trace used
/// first: at connload's 50,000 connections a second they cost 7.06 µs of tcpq's CPU a connection
/// against 0.91 for writing its rows (bench/RESULTS.md), an activity and its tags, links and
/// events allocated per span, a second queue and thread, and the ring buffer overflowed.
/// </remarks>
public sealed class ConnectionSpanExporter : IConnectionSpanSink, IDisposable
{
    public const string ServiceName = "tcpq";

    private readonly OtlpTraceEncoder _encoder;
    private readonly OtlpTraceSender _sender;
    private readonly ConnectionSpanHandoff _handoff;
    private readonly SpanExportLimits _limits;
    private readonly CancellationTokenSource _stop = new();
    private DateTime _firstQueued;
    private DateTime _finalDeadline = DateTime.MaxValue;
    private long _sent, _spans, _exported, _failed;
    private volatile string? _lastFailure;
    private bool _completed;

    public static string Version => typeof(ConnectionSpanExporter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public ConnectionSpanExporter(OtlpTraceEndpoint endpoint, WallClock clock, SpanExportLimits? limits = null)
    {
        _limits = limits ?? new SpanExportLimits();
        _encoder = new OtlpTraceEncoder(clock, ServiceName, Version, Guid.NewGuid().ToString(), Environment.MachineName, _limits.BatchBytes + (64 << 10));
        _sender = new OtlpTraceSender(endpoint, Version);
        _handoff = new ConnectionSpanHandoff(new Batch(this), _limits.HandoffSlots, _limits.HandoffWake, SendIfDue, _limits.CpuShare, _limits.CpuBurst);
    }

    /// <summary>Connections handed to the exporter; of them, those made into spans and those left
    /// out, every slot taken (the spans' thread behind, or the collector).</summary>
    public long Connections => _handoff.Handed + _handoff.Dropped;
    public long ConnectionsSent => Interlocked.Read(ref _sent);
    public long ConnectionsDropped => _handoff.Dropped;
    /// <summary>Spans made; of them, those the collector took and those it did not (an error, no answer).</summary>
    public long Spans => Interlocked.Read(ref _spans);
    public long SpansExported => Interlocked.Read(ref _exported);
    public long SpansFailed => Interlocked.Read(ref _failed);
    /// <summary>What went wrong with the last export that failed, in a line; null if none did.</summary>
    public string? LastFailure => _lastFailure;
    /// <summary>What stopped the spans' thread, if something did (a defect).</summary>
    public Exception? Failure => _handoff.Failure;

    /// <summary>On the caller's thread: copies the connection for the spans' thread, or counts it left out.</summary>
    public void Write(ConnectionSpan span) => _handoff.Write(span);

    public bool LeavesOut() => _handoff.LeavesOut();

    /// <summary>The most of one CPU the spans' thread takes (<see cref="SpanExportLimits.CpuShare"/>).</summary>
    public double CpuShare => _limits.CpuShare;

    /// <summary>Sends what is held and stops the spans' thread, within <paramref name="timeout"/>
    /// (a retry waits no longer): false when it did not all go in time. The counts are final after it.</summary>
    public bool Complete(TimeSpan timeout)
    {
        if (_completed) return true;
        _completed = true;
        _finalDeadline = DateTime.UtcNow + timeout;
        bool done = _handoff.Complete(timeout);
        if (!done) _stop.Cancel();
        return done && _encoder.Connections == 0;
    }

    /// <summary>The spans' side of the handoff: each connection into the request being written.</summary>
    private sealed class Batch(ConnectionSpanExporter exporter) : IConnectionSpanSink
    {
        public void Write(ConnectionSpan span)
        {
            var e = exporter;
            if (e._encoder.Connections == 0) e._firstQueued = DateTime.UtcNow;
            int made = e._encoder.Add(span);
            Interlocked.Increment(ref e._sent);
            Interlocked.Add(ref e._spans, made);
            if (e._encoder.Bytes >= e._limits.BatchBytes) e.Send();
        }
    }

    /// <summary>After each drain, on the spans' thread: the request goes when it has waited long
    /// enough, or at the end.</summary>
    private void SendIfDue(bool last)
    {
        if (_encoder.Connections > 0 && (last || DateTime.UtcNow - _firstQueued >= _limits.Delay)) Send();
    }

    private void Send()
    {
        int spans = _encoder.Spans;
        var deadline = _finalDeadline != DateTime.MaxValue ? _finalDeadline : DateTime.UtcNow + _limits.RetryFor;
        bool ok = _sender.Send(_encoder.Request(), deadline, _stop.Token);
        _encoder.Clear();
        if (ok) Interlocked.Add(ref _exported, spans);
        else
        {
            Interlocked.Add(ref _failed, spans);
            _lastFailure = _sender.LastFailure ?? "the collector did not take them";
        }
    }

    public void Dispose()
    {
        Complete(TimeSpan.FromSeconds(5));
        _handoff.Dispose();
        _sender.Dispose();
        _stop.Dispose();
    }
}

/// <summary>How much the exporter holds, how often it sends, how it yields.</summary>
public sealed record SpanExportLimits
{
    /// <summary>Finished connections waiting for the spans' thread (<see cref="ConnectionSpanHandoff"/>):
    /// 8192 is 160 ms of a 50,000-a-second load, some 2 MB of slots.</summary>
    public int HandoffSlots { get; init; } = 8192;
    /// <summary>How often the spans' thread looks for finished connections when fewer than half
    /// the slots are taken.</summary>
    public TimeSpan HandoffWake { get; init; } = TimeSpan.FromMilliseconds(50);
    /// <summary>A request is sent when it reaches this size (some 1,700 connections of 3 spans);
    /// well under gRPC's usual 4 MiB limit on a message.</summary>
    public int BatchBytes { get; init; } = 1 << 20;
    /// <summary>How long a connection may wait for its request: a person watching a dashboard
    /// sees a connection about a second after it ended.</summary>
    public TimeSpan Delay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>How long one request is tried again (retryable answers) before it counts as failed;
    /// meanwhile new connections wait in the slots, and those that find none are left out.</summary>
    public TimeSpan RetryFor { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>The most of one CPU the spans' thread takes, encoding and sending included: 5 %,
    /// enough for every connection of bench/run's connload, 63,000 a second on 2 EPYC CPUs; past it
    /// the connections that find no slot are left out and counted. A share, not a low priority: see <see cref="CpuBudget"/>.</summary>
    public double CpuShare { get; init; } = 0.05;
    /// <summary>What the spans' thread may run at once after a rest, a burst of connections.</summary>
    public TimeSpan CpuBurst { get; init; } = TimeSpan.FromMilliseconds(50);
}
