using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Spans;

namespace Tcpq.Commands;

/// <summary>
/// <c>trace --otlp-endpoint</c>: the tracker's finished connections become traces
/// (<see cref="TimelineSpans"/> → <see cref="ConnectionSpanExporter"/>): the loop's thread, which
/// reads the ring buffer, only copies each finished connection; the spans are encoded and sent on
/// a thread of their own, held to a share of a CPU, so they never make the ring buffer overflow. Wired into the tracker
/// as its <see cref="TrackerOptions.Finished"/> callback; at each tick of the loop the tracker's
/// clock moves on (so the last connections of a burst go out without waiting for more traffic)
/// and export failures are said, at most once a minute; at the end what was sent is said.
/// </summary>
public sealed class TraceSpans : IDisposable
{
    private static readonly TimeSpan FailureReportPeriod = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan FinalFlush = TimeSpan.FromSeconds(5);

    private readonly OtlpTarget _target;
    private readonly ConnectionSpanExporter _exporter;
    private readonly TimelineSpans _spans;
    private readonly TextWriter _messages;
    private long _failedSaid, _droppedSaid;
    private DateTime _nextFailureReport = DateTime.MinValue;

    public TraceSpans(OtlpTarget target, WallClock clock, DropReasons reasons, Func<ListenerKey, Workload?>? workloads, TextWriter messages, SpanExportLimits? limits = null)
    {
        _target = target;
        _messages = messages;
        _exporter = new ConnectionSpanExporter(target.SpanEndpoint(), clock, limits);
        _spans = new TimelineSpans(_exporter, reasons, workloads);
    }

    public ConnectionSpanExporter Exporter => _exporter;

    /// <summary>The tracker's options with the spans' callback and marks.</summary>
    public TrackerOptions Tracking(TrackerOptions tracking) => tracking with { Finished = _spans.OnFinished, KeepMarks = true };

    public string StartLine =>
        $"sending each connection as a trace to {_target.EndpointText} ({(_target.Protocol == OpenTelemetry.Exporter.OtlpExportProtocol.Grpc ? "OTLP/gRPC" : "OTLP/HTTP")}{(_target.Gzip ? ", gzip" : "")}" +
        (_target.From == "--otlp-endpoint" ? ")" : $", from {_target.From})");

    /// <summary>At every tick of the command's loop.</summary>
    public void Tick(ConnectionTracker tracker)
    {
        tracker.ExpireAt((ulong)WallClock.MonotonicNowNs());
        long failed = _exporter.SpansFailed, dropped = Dropped;
        if ((failed > _failedSaid || dropped > _droppedSaid) && DateTime.UtcNow >= _nextFailureReport)
        {
            var what = new List<string>();
            if (failed > _failedSaid) what.Add($"{Count(failed, "span")} not taken by the collector ({_exporter.LastFailure})");
            if (dropped > _droppedSaid) what.Add($"{Count(dropped, "connection")} left out, {LeftOutWhy}");
            _messages.WriteLine($"tcpq: OTLP export to {_target.EndpointText}: {string.Join("; ", what)} so far");
            (_failedSaid, _droppedSaid) = (failed, dropped);
            _nextFailureReport = DateTime.UtcNow + FailureReportPeriod;
        }
    }

    /// <summary>Ends the tracker's connections (each becomes a trace), sends what is queued and
    /// says what went where.</summary>
    public void End(ConnectionTracker tracker)
    {
        tracker.Complete();
        bool flushed = _exporter.Complete(FinalFlush);
        var e = _exporter;
        var line = $"tcpq: {Count(e.ConnectionsSent, "connection")} sent as traces to {_target.EndpointText} ({Count(e.SpansExported, "span")} taken";
        if (e.SpansFailed > 0) line += $", {e.SpansFailed} not: {e.LastFailure}";
        long unsent = e.Spans - e.SpansExported - e.SpansFailed;
        if (unsent > 0) line += $", {unsent} not sent{(flushed ? "" : $" within {FinalFlush.TotalSeconds:0} s")}";
        line += ")";
        if (Dropped > 0) line += $"; {Count(Dropped, "connection")} left out, {LeftOutWhy}";
        if (e.Failure is { } failure) line += $"; the spans stopped early ({failure.GetType().Name}, a defect: please report it)";
        _messages.WriteLine(line);
    }

    /// <summary>Why connections are left out: every slot of the export queue taken, the spans'
    /// thread at its share of a CPU, or the collector slow or gone.</summary>
    private string LeftOutWhy => $"the export queue full (spans take at most {_exporter.CpuShare:0 %} of a CPU, or the collector was slow)";

    /// <summary>Connections left out: the spans' thread behind, its slots all taken (its CPU
    /// share spent, or the collector slow or gone).</summary>
    private long Dropped => _exporter.ConnectionsDropped;

    private static string Count(long n, string what) => n == 1 ? $"1 {what}" : $"{n} {what}s";

    public void Dispose() => _exporter.Dispose();
}
